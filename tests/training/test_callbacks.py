"""Callbacks: hooks order, EarlyStopping, ModelCheckpoint, LearningRateScheduler, CSV/JSON loggers, GradientMonitor."""

import csv
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientMonitor,
    JSONLogger,
    LearningRateScheduler,
    ModelCheckpoint,
)
from lamina.training import History


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 3)) + y[:, None] * 2.0
    return X, y


def train(model, callbacks, epochs=4, lr=0.1, val=True, **kw):
    X, y = data()
    return lamina.fit(model, (X, y), val=(X[:10], y[:10]) if val else None, loss=nn.CrossEntropyLoss(),
                      optimizer=optim.SGD(model.parameters(), lr=lr), epochs=epochs, batch_size=10,
                      callbacks=callbacks, progress=False, **kw)


def fake_state(model=None):
    return SimpleNamespace(stop_training=False, model=model, history=History())


def test_hooks_are_called_in_order():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs):
            calls.append(("train_begin", logs["initial_epoch"]))

        def on_epoch_begin(self, epoch, logs):
            calls.append(("epoch_begin", epoch))

        def on_batch_end(self, step, logs):
            assert set(logs) == {"loss", "size"} and logs["size"] == 10
            calls.append(("batch", step))

        def on_epoch_end(self, epoch, logs):
            assert {"loss", "val_loss", "lr", "epoch_time", "samples_per_sec"} <= set(logs)
            calls.append(("epoch_end", epoch))

        def on_train_end(self, logs):
            calls.append(("train_end", logs["interrupted"]))

    recorder = Recorder()
    train(nn.Linear(3, 2), [recorder], epochs=2)
    batches = [("batch", i) for i in range(4)]
    assert calls == [("train_begin", 0), ("epoch_begin", 0), *batches, ("epoch_end", 0),
                     ("epoch_begin", 1), *batches, ("epoch_end", 1), ("train_end", False)]
    assert recorder.state.epochs == 2


def test_stop_training_from_a_callback():
    class StopAfterFirst(Callback):
        def on_epoch_end(self, epoch, logs):
            self.state.stop_training = True

    history = train(nn.Linear(3, 2), [StopAfterFirst()], epochs=5)
    assert len(history) == 1 and not history.interrupted


def test_early_stopping_counts_patience_and_restores_best_weights():
    model = nn.Linear(2, 1)
    es = EarlyStopping(patience=3, restore_best_weights=True)
    es.set_state(fake_state(model))
    es.on_train_begin({"initial_epoch": 0})
    losses = [1.0, 0.8, 0.85, 0.9, 0.81, 0.7]
    best = None
    for epoch, loss in enumerate(losses):
        with lamina.no_grad():
            model.weight.fill_(float(epoch))
        es.on_epoch_end(epoch, {"val_loss": loss})
        if epoch == 1:
            best = model.weight.detach().numpy().copy()
        if es.state.stop_training:
            break
    assert es.stopped_epoch == 4 and es.best_epoch == 1 and es.best == 0.8
    np.testing.assert_array_equal(model.weight.detach().numpy(), best)


def test_early_stopping_mode_and_min_delta():
    es = EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.05)
    assert es.tracker.mode == "max"
    es.set_state(fake_state())
    es.on_train_begin({})
    for epoch, acc in enumerate([0.5, 0.54, 0.56, 0.58]):  # +0.04, +0.06 (vs 0.5), +0.02: only 0.56 counts
        es.on_epoch_end(epoch, {"val_accuracy": acc})
    assert es.best == 0.56 and es.wait == 1 and not es.state.stop_training
    es.on_epoch_end(4, {"val_accuracy": 0.6})
    assert es.state.stop_training
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_in_fit_stops_a_run_that_cannot_improve():
    # lr=0: the epoch loss changes only by float rounding as the shuffled batches change order
    es = EarlyStopping(monitor="loss", patience=2, min_delta=1e-6)
    history = train(nn.Linear(3, 2), [es], epochs=20, lr=0.0, val=False)
    assert len(history) == 3  # epoch 0 is best; 1 and 2 do not improve
    assert es.stopped_epoch == 2


def test_missing_monitor_names_what_is_there():
    with pytest.raises(KeyError, match="monitors 'val_loss'.*loss.*pass val= to fit"):
        train(nn.Linear(3, 2), [EarlyStopping()], epochs=1, val=False)


def test_model_checkpoint_saves_the_best(tmp_path):
    path = tmp_path / "best.safetensors"
    saved = {}

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs):
            saved[epoch] = ({k: v.numpy().copy() for k, v in self.state.model.state_dict().items()}, logs["val_loss"])

    mc = ModelCheckpoint(path)
    lamina.manual_seed(0)
    model = nn.Linear(3, 2)
    history = train(model, [Snapshot(), mc], epochs=5)
    best_epoch = int(np.argmin(history["val_loss"]))
    stored = lamina.load(path)
    for k, v in saved[best_epoch][0].items():
        np.testing.assert_array_equal(stored[k].numpy(), v)
    assert mc.best_path == path


def test_model_checkpoint_every_epoch_and_full_checkpoint(tmp_path):
    mc = ModelCheckpoint(tmp_path / "m-{epoch:02d}.safetensors", save_best_only=False)
    train(nn.Linear(3, 2), [mc], epochs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-01.safetensors", "m-02.safetensors", "m-03.safetensors"]
    full = ModelCheckpoint(tmp_path / "full.ckpt", monitor="val_loss", weights_only=False)
    train(nn.Linear(3, 2), [full], epochs=2)
    ckpt = lamina.load_checkpoint(tmp_path / "full.ckpt", model=nn.Linear(3, 2))
    assert ckpt["epoch"] in (1, 2) and "loss" in ckpt["history"]["history"]


def test_learning_rate_scheduler_function_and_scheduler():
    history = train(nn.Linear(3, 2), [LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], epochs=3)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    history = train(nn.Linear(3, 2), [LearningRateScheduler(lambda epoch, lr: lr * 0.5)], epochs=3)
    assert history["lr"] == pytest.approx([0.05, 0.025, 0.0125])

    model = nn.Linear(3, 2)
    X, y = data()
    opt = optim.SGD(model.parameters(), lr=0.2)
    step = LearningRateScheduler(optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=3, callbacks=[step],
                         progress=False)
    assert history["lr"] == pytest.approx([0.2, 0.1, 0.05])
    with pytest.raises(TypeError):
        LearningRateScheduler(0.1)


def test_csv_and_json_loggers(tmp_path):
    csv_path, json_path = tmp_path / "log.csv", tmp_path / "log.jsonl"
    history = train(nn.Linear(3, 2), [CSVLogger(csv_path), JSONLogger(json_path)], epochs=3, metrics=["accuracy"])
    rows = list(csv.DictReader(open(csv_path)))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_accuracy"]) for r in rows] == history["val_accuracy"]
    assert [float(r["loss"]) for r in rows] == history["loss"]
    lines = [json.loads(line) for line in json_path.read_text().splitlines()]
    assert [d["epoch"] for d in lines] == [1, 2, 3]
    assert [d["val_loss"] for d in lines] == history["val_loss"]
    # a new run overwrites, unless append=True
    train(nn.Linear(3, 2), [CSVLogger(csv_path, append=True), JSONLogger(json_path)], epochs=1)
    assert len(list(csv.DictReader(open(csv_path)))) == 4
    assert len(json_path.read_text().splitlines()) == 1


def test_callback_state_survives_resume(tmp_path):
    """A resumed run appends to its CSV log and EarlyStopping keeps counting from where it was."""
    X, y = data()

    def go(seed, epochs, **kw):
        lamina.manual_seed(seed)
        model = nn.Linear(3, 2)
        es = EarlyStopping(monitor="loss", patience=50, restore_best_weights=True)
        cbs = [CSVLogger(tmp_path / "log.csv"), es, *kw.pop("extra", [])]
        lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                   epochs=epochs, batch_size=10, callbacks=cbs, progress=False, **kw)
        return es

    class Interrupt(Callback):
        def on_epoch_begin(self, epoch, logs):
            if epoch == 2:
                raise KeyboardInterrupt

    full = go(0, 4)
    go(0, 4, checkpoint=tmp_path / "c.ckpt", extra=[Interrupt()])
    resumed = go(9, 4, resume=tmp_path / "c.ckpt")
    assert [int(r["epoch"]) for r in csv.DictReader(open(tmp_path / "log.csv"))] == [1, 2, 3, 4]
    assert (resumed.best, resumed.wait, resumed.best_epoch) == (full.best, full.wait, full.best_epoch)
    for k in full.best_weights:
        np.testing.assert_array_equal(resumed.best_weights[k].numpy(), full.best_weights[k].numpy())


def test_gradient_monitor_records_mean_grad_norms():
    """With one batch per epoch the recorded norm is that of the gradient at the epoch's start weights."""
    X, y = data(n=20)
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    snapshot = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                         epochs=2, batch_size=20, callbacks=[GradientMonitor()], progress=False)
    assert set(history.gradient_norms) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert all(len(v) == 2 for v in history.gradient_norms.values())
    ref = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    ref.load_state_dict(snapshot)
    nn.CrossEntropyLoss()(ref(lamina.tensor(X.astype(np.float32))), lamina.tensor(y)).backward()
    for name, p in ref.named_parameters():
        expected = math.sqrt(float(np.sum(p.grad.numpy().astype(np.float64) ** 2)))
        assert history.gradient_norms[name][0] == pytest.approx(expected, rel=1e-5)


def test_gradient_monitor_shows_vanishing_gradients():
    """Deep sigmoid stacks: the first layer's gradient is far smaller than the last one's."""
    X, y = data(n=40)
    lamina.manual_seed(0)
    layers = []
    for _ in range(8):
        layers += [nn.Linear(3, 3), nn.Sigmoid()]
    model = nn.Sequential(nn.Linear(3, 3), *layers, nn.Linear(3, 2))
    with pytest.warns(RuntimeWarning, match="gradients vanish: layer '0'"):  # fit's health callback says so too
        history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(),
                             optimizer=optim.SGD(model.parameters(), lr=0.01), epochs=1,
                             callbacks=[GradientMonitor(every=2)], progress=False)
    norms = history.gradient_norms
    first, last = norms["0.weight"][0], norms[f"{len(model) - 1}.weight"][0]
    assert first < last / 100


@pytest.mark.parametrize("monitor, mode", [("loss", "min"), ("val_loss", "min"), ("val_recon_loss", "min"),
                                           ("val_accuracy", "max"), ("r2", "max"), ("val_mse", "min"),
                                           ("mae", "min"), ("val_top3_accuracy", "max"), ("f1", "max")])
def test_auto_mode_reads_the_metrics_declared_direction(monitor, mode):
    assert EarlyStopping(monitor=monitor).tracker.mode == mode
    assert ModelCheckpoint("m.safetensors", monitor=monitor).tracker.mode == mode


def test_auto_mode_refuses_to_guess():
    for monitor in ("val_acc", "lr", "epoch_time", "my_score"):
        with pytest.raises(ValueError, match=f"cannot tell whether '{monitor}' improves.*mode='min' or mode='max'"):
            EarlyStopping(monitor=monitor)
    with pytest.raises(ValueError, match="'val_auc'"):
        ModelCheckpoint("m.safetensors", monitor="val_auc")
    assert EarlyStopping(monitor="my_score", mode="max").tracker.mode == "max"


def test_learning_rate_scheduler_follows_the_schedulers_interval():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    one_cycle = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=12)
    train(model, [LearningRateScheduler(one_cycle)], epochs=3, val=False)  # 4 batches per epoch
    assert one_cycle.last_epoch == 12
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = optim.lr_scheduler.StepLR(opt, step_size=1)
    X, y = data()
    lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=3, batch_size=10, progress=False,
               callbacks=[LearningRateScheduler(step, interval="batch")])
    assert step.last_epoch == 12
    with pytest.raises(ValueError, match="interval"):
        LearningRateScheduler(lambda epoch: 0.1, interval="batch")
    with pytest.raises(ValueError, match="interval"):
        LearningRateScheduler(step, interval="step")


def test_a_full_model_checkpoint_resumes_bit_for_bit(tmp_path):
    """ModelCheckpoint(weights_only=False) writes the checkpoint fit(checkpoint=...) writes: fit can resume it."""
    X, y = data()

    def go(epochs, seed, callbacks=(), **kw):
        lamina.manual_seed(seed)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
        opt = optim.Adam(model.parameters(), lr=0.01)
        history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=epochs, batch_size=10,
                             scheduler=optim.lr_scheduler.ExponentialLR(opt, gamma=0.8),
                             callbacks=[EarlyStopping(monitor="loss", patience=9), *callbacks], progress=False, **kw)
        return model, history

    full, full_history = go(4, 0)
    mc = ModelCheckpoint(tmp_path / "every.ckpt", monitor="loss", save_best_only=False, weights_only=False)
    go(2, 0, [mc])
    saved = lamina.load_checkpoint(tmp_path / "every.ckpt", model=nn.Sequential(nn.Linear(3, 8), nn.ReLU(),
                                                                              nn.Dropout(0.3), nn.Linear(8, 2)))
    assert saved["epoch"] == 2 and len(saved["extra"]["callbacks"]) == 2  # EarlyStopping's and its own
    resumed, history = go(4, 7, [ModelCheckpoint(tmp_path / "x.ckpt", monitor="loss", save_best_only=False)],
                          resume=tmp_path / "every.ckpt")
    assert history["loss"] == full_history["loss"] and history["lr"] == full_history["lr"]
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
