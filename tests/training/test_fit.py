"""fit / evaluate / predict: the loop itself, data conversion, schedulers, failure, interruption and resuming."""

import io
import json
import os
import signal

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.callbacks import Callback
from lamina.data import DataLoader, TensorDataset
from lamina.training import History, TrainingError


def blobs(n=96, seed=0, classes=3, features=4):
    """Separable Gaussian blobs: float64 features and int labels, as they come from NumPy/scikit-learn."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.normal(size=(n, features)) * 0.5 + np.eye(classes, features)[y] * 3
    return X, y


def mlp(dropout=0.0, features=4, classes=3):
    layers = [nn.Linear(features, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, classes))


def weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_fit_learns_and_records_history():
    X, y = blobs()
    lamina.manual_seed(0)
    model = mlp()
    history = lamina.fit(model, (X[:64], y[:64]), val=(X[64:], y[64:]), loss=nn.CrossEntropyLoss(),
                         optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=8, metrics=["accuracy"],
                         batch_size=16, progress=False)
    assert isinstance(history, History)
    assert history.epoch == list(range(8))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time", "samples_per_sec"):
        assert len(history.history[key]) == 8, key
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    assert history["val_accuracy"][-1] == 1.0
    assert history["lr"] == [0.05] * 8
    assert all(s > 0 for s in history["samples_per_sec"])
    assert not history.interrupted


def test_fit_matches_a_hand_written_loop_bit_for_bit():
    """fit is exactly the PyTorch loop: same seed, same shuffling, same dropout masks, same weights."""
    X, y = blobs()
    X32, y64 = X.astype(np.float32), y.astype(np.int64)

    lamina.manual_seed(3)
    model = mlp(dropout=0.3)
    lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
               epochs=3, batch_size=10, progress=False)

    lamina.manual_seed(3)
    ref = mlp(dropout=0.3)
    opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X32, y64), batch_size=10, shuffle=True)
    for _ in range(3):
        ref.train()
        for xb, yb in loader:
            loss = loss_fn(ref(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert_same_weights(weights(model), weights(ref))


def test_fit_matches_torch():
    torch = pytest.importorskip("torch")
    X, y = blobs(n=40)
    lamina.manual_seed(0)
    model = mlp()
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for (_, p), tp in zip(model.named_parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy().copy()))
    history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                         epochs=3, batch_size=8, shuffle=False, progress=False)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    losses = []
    for _ in range(3):
        total = 0.0
        for i in range(0, 40, 8):
            loss = torch.nn.functional.cross_entropy(tmodel(Xt[i:i + 8]), yt[i:i + 8])
            topt.zero_grad()
            loss.backward()
            topt.step()
            total += loss.item() * 8
        losses.append(total / 40)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-4, atol=1e-5)
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_inputs_dataloader_dataset_and_arrays_agree():
    X, y = blobs(n=32)
    runs = []
    for data in ((X, y), TensorDataset(X.astype(np.float32), y.astype(np.int64)),
                 DataLoader(TensorDataset(X.astype(np.float32), y.astype(np.int64)), batch_size=8, shuffle=True)):
        lamina.manual_seed(1)
        model = mlp()
        lamina.fit(model, data, loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                   epochs=2, batch_size=8, progress=False)
        runs.append(weights(model))
    assert_same_weights(runs[0], runs[1])
    assert_same_weights(runs[0], runs[2])


def test_targets_converted_for_the_loss():
    """float64 features become float32; int 0/1 labels become float32 for BCEWithLogitsLoss."""
    seen = []

    class Spy(nn.BCEWithLogitsLoss):
        def forward(self, input, target):
            seen.append((input.dtype, target.dtype))
            return super().forward(input, target)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = (X[:, :1] > 0).astype(np.int64)
    model = nn.Linear(3, 1)
    lamina.fit(model, (X, y), loss=Spy(), optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False)
    assert seen and all(s == (np.float32, np.float32) for s in seen)


def test_float_class_labels_for_cross_entropy():
    X, y = blobs(n=16)
    model = mlp()
    lamina.fit(model, (X, y.astype(np.float64)), loss=nn.CrossEntropyLoss(),
               optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False)
    with pytest.raises(ValueError, match="whole numbers"):
        lamina.fit(model, (X, y + 0.5), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                   epochs=1, progress=False)


def test_bad_data_is_reported_clearly():
    X, y = blobs(n=10)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="X has 10 samples but y has 9"):
        lamina.fit(model, (X, y[:9]), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, progress=False)
    with pytest.raises(TypeError, match="an \\(X, y\\) pair"):
        lamina.fit(model, (X, y, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, progress=False)
    with pytest.raises(TypeError, match="Callback"):
        lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, progress=False,
                   callbacks=[print])


def test_evaluate_and_predict_run_in_eval_mode_without_graph():
    X, y = blobs(n=30)
    lamina.manual_seed(0)
    model = mlp(dropout=0.5)
    model.train()
    p1 = lamina.predict(model, X, batch_size=7)
    p2 = lamina.predict(model, X)
    assert model.training  # previous mode restored
    assert p1.shape == (30, 3) and p1.dtype == np.float32 and not p1.requires_grad
    # dropout off: deterministic (up to rounding: the batch size decides between kernels, as in torch)
    np.testing.assert_allclose(p1.numpy(), p2.numpy(), rtol=1e-6, atol=1e-7)
    model.eval()
    expected = model(lamina.tensor(X.astype(np.float32))).detach().numpy()
    np.testing.assert_allclose(p1.numpy(), expected, rtol=1e-6, atol=1e-7)
    lamina.predict(model, X)
    assert not model.training

    model.train()
    result = lamina.evaluate(model, (X, y), loss=nn.CrossEntropyLoss(), metrics=["accuracy"], batch_size=4)
    logits = lamina.tensor(expected)
    assert result["loss"] == pytest.approx(nn.CrossEntropyLoss()(logits, lamina.tensor(y)).item(), rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(expected.argmax(1) == y))
    assert model.training
    assert lamina.is_grad_enabled()


def test_per_epoch_scheduler_and_plateau():
    X, y = blobs(n=16)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=5, progress=False,
                         scheduler=optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5))
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])

    seen = []

    class Plateau(optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics):
            seen.append(metrics)
            super().step(metrics)

    opt = optim.SGD(model.parameters(), lr=0.1)
    history = lamina.fit(model, (X, y), val=(X[:8], y[:8]), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=3,
                         progress=False, scheduler=Plateau(opt, patience=0))
    assert seen == history["val_loss"]


def test_one_cycle_steps_every_batch():
    X, y = blobs(n=40)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=5)
    lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=3, batch_size=8, scheduler=sched,
               progress=False)
    assert sched.last_epoch == 15


class NaNAt:
    """A loss that becomes NaN at a given call."""

    def __init__(self, at):
        self.at, self.calls, self.inner = at, 0, nn.CrossEntropyLoss()

    def __call__(self, out, y):
        self.calls += 1
        loss = self.inner(out, y)
        return loss * float("nan") if self.calls == self.at else loss


def test_nan_loss_stops_with_epoch_step_and_checkpoint(tmp_path):
    X, y = blobs(n=40)
    model = mlp()
    ckpt = tmp_path / "run"
    with pytest.raises(TrainingError, match="nan at epoch 2, step 3") as err:
        lamina.fit(model, (X, y), loss=NaNAt(5 + 3), optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=3,
                   batch_size=8, checkpoint=ckpt, progress=False)
    assert str(ckpt / "checkpoint.ckpt") in str(err.value)
    assert (err.value.epoch, err.value.step, err.value.checkpoint) == (2, 3, ckpt / "checkpoint.ckpt")
    assert len(err.value.history) == 1  # the epoch completed before
    assert isinstance(err.value, FloatingPointError)
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())  # the bad step was not applied
    stream = io.StringIO()
    try:
        lamina.fit(model, (X, y), loss=NaNAt(2), optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1,
                   batch_size=8, progress=stream)
    except TrainingError as err:  # checked while the traceback still holds the bar: fit closed it itself
        assert "no checkpoint was saved" in str(err)
        assert "epoch 1/1" in stream.getvalue() and stream.getvalue().endswith("\n")
    else:
        pytest.fail("no TrainingError")


class InterruptAt(Callback):
    def __init__(self, epoch, step):
        self.at = (epoch, step)

    def on_batch_end(self, step, logs):
        if (self.state.epoch, step) == self.at:
            raise KeyboardInterrupt


def run(seed, epochs, checkpoint=None, resume=None, callbacks=(), **kw):
    X, y = blobs(n=50)
    lamina.manual_seed(seed)
    model = mlp(dropout=0.3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
    history = lamina.fit(model, (X, y), val=(X[:20], y[:20]), loss=nn.CrossEntropyLoss(), optimizer=opt,
                         scheduler=sched, epochs=epochs, batch_size=8, shuffle=True, checkpoint=checkpoint,
                         resume=resume, callbacks=callbacks, progress=False, **kw)
    return model, history


def test_interrupt_returns_history_and_keeps_last_checkpoint(tmp_path):
    ckpt = tmp_path / "ck.ckpt"
    model, history = run(0, 5, checkpoint=ckpt, callbacks=[InterruptAt(2, 3)])
    assert history.interrupted
    assert history.epoch == [0, 1]
    saved = lamina.load_checkpoint(ckpt, model=mlp(dropout=0.3))
    assert saved["epoch"] == 2
    assert saved["history"]["history"]["loss"] == history["loss"]


def test_interrupted_and_resumed_run_is_bit_identical(tmp_path):
    ckpt = tmp_path / "ck.ckpt"
    full, full_history = run(0, 5)
    _, partial = run(0, 5, checkpoint=ckpt, callbacks=[InterruptAt(2, 3)])
    assert partial.interrupted and len(partial) == 2
    resumed, history = run(123, 5, resume=ckpt)  # different seed and init: everything comes from the checkpoint
    assert_same_weights(weights(full), weights(resumed))
    assert history.epoch == list(range(5))
    assert history["loss"] == full_history["loss"]
    assert history["val_loss"] == full_history["val_loss"]
    assert history["lr"] == full_history["lr"]
    assert not history.interrupted


def test_resume_restores_a_loader_generator(tmp_path):
    X, y = blobs(n=40)

    def go(epochs, seed, **kw):
        lamina.manual_seed(seed)
        model = mlp(dropout=0.2)
        loader = DataLoader(TensorDataset(X.astype(np.float32), y.astype(np.int64)), batch_size=8, shuffle=True,
                            generator=lamina.Generator().manual_seed(seed + 7))
        lamina.fit(model, loader, loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                   epochs=epochs, progress=False, **kw)
        return model

    full = go(4, 0)
    go(2, 0, checkpoint=tmp_path)
    resumed = go(4, 5, resume=tmp_path)
    assert_same_weights(weights(full), weights(resumed))


def test_ctrl_c_stops_after_the_current_step(tmp_path):
    if not hasattr(signal, "SIGINT"):
        pytest.skip("no SIGINT")
    steps = []

    class CtrlC(Callback):
        def on_batch_end(self, step, logs):
            steps.append((self.state.epoch, step))
            if (self.state.epoch, step) == (1, 2):
                os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, whatever ran before
    try:
        _, history = run(0, 4, checkpoint=tmp_path / "c.ckpt", callbacks=[CtrlC()])
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # fit put back the handler it found
    finally:
        signal.signal(signal.SIGINT, previous)
    assert history.interrupted and len(history) == 1
    assert steps[-1] == (1, 2)  # the step in progress finished, no further step ran


def test_a_second_ctrl_c_pending_as_fit_ends_still_gets_the_old_handler_back(tmp_path, monkeypatch):
    """Two Ctrl-Cs in quick succession: the first stops training, the second is still pending when fit puts the old
    handler back. CPython runs a pending signal's handler inside ``signal.signal`` before it swaps, and fit's handler
    raises on a second Ctrl-C, so that swap never happened: fit's handler stayed installed for good."""

    class CtrlC(Callback):
        def on_batch_end(self, step, logs):
            if (self.state.epoch, step) == (1, 2):
                os.kill(os.getpid(), signal.SIGINT)

    real, sent = signal.signal, []

    def swap(signum, handler):
        if signum == signal.SIGINT and handler is signal.default_int_handler and not sent:
            sent.append(signum)
            signal.raise_signal(signal.SIGINT)  # pending: runs fit's handler now, which raises before the swap
        return real(signum, handler)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        monkeypatch.setattr(signal, "signal", swap)
        _, history = run(0, 4, checkpoint=tmp_path / "c.ckpt", callbacks=[CtrlC()])
        monkeypatch.undo()
        assert sent and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        real(signal.SIGINT, previous)
    assert history.interrupted and len(history) == 1


def test_progress_bar_writes_to_the_stream(capsys):
    X, y = blobs(n=32)
    model = mlp()
    lamina.fit(model, (X, y), val=(X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
               epochs=2, metrics=["accuracy"], batch_size=8, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    assert "val_accuracy=" in err and "samples/s" in err
    stream = io.StringIO()
    lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
               epochs=1, batch_size=8, progress=stream)
    assert "4/4" in stream.getvalue()
    lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
               epochs=1, batch_size=8, progress=False)
    assert capsys.readouterr().err == ""


def test_clip_grad_norm_bounds_the_update():
    X, y = blobs(n=8)
    lamina.manual_seed(0)
    model = nn.Linear(4, 3)
    before = weights(model)
    lamina.fit(model, (X * 1000, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=1.0),
               epochs=1, batch_size=8, progress=False, clip_grad_norm=0.5)
    after = weights(model)
    step = np.sqrt(sum(np.sum((after[k] - before[k]) ** 2) for k in before))
    assert step == pytest.approx(0.5, rel=1e-4)


def test_history_json_round_trip():
    h = History()
    h.record(0, {"loss": 1.5, "val_loss": 2.0})
    h.record(1, {"loss": 0.5, "val_loss": 1.0})
    h.gradient_norms["0.weight"] = [0.1, 0.2]
    h.interrupted = True
    back = History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert back.history == h.history and back.epoch == [0, 1]
    assert back.gradient_norms == h.gradient_norms and back.interrupted
    assert back.last() == {"loss": 0.5, "val_loss": 1.0}
    assert "val_loss" in back and len(back) == 2


def test_integer_features_are_converted_to_float32_like_float64_ones():
    import numpy as np

    import lamina
    from lamina import nn, optim

    lamina.manual_seed(0)
    model = nn.Linear(2, 1)
    X = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])  # int64
    y = np.array([[1.0], [1.0], [2.0], [0.0]])
    history = lamina.fit(model, (X, y), loss=nn.MSELoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                         epochs=3, progress=False)
    assert len(history) == 3
    assert lamina.predict(model, X).dtype == lamina.float32


def test_a_loss_declares_the_targets_it_wants():
    """fit converts (X, y) targets by the loss's target_kind, not by its class name."""
    seen = []

    class Recording:
        def __init__(self, inner, kind):
            self.inner, self.target_kind = inner, kind

        def __call__(self, out, y):
            seen.append(y.dtype)
            return self.inner(out, y)

    X, y = blobs(n=16)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    lamina.fit(model, (X, y.astype(np.float64)), loss=Recording(nn.CrossEntropyLoss(), "class"), optimizer=opt,
               epochs=1, progress=False)
    lamina.fit(model, (X, y), loss=Recording(nn.CrossEntropyLoss(), None), optimizer=opt, epochs=1, progress=False)
    onehot = np.eye(3, dtype=np.int64)[y]
    lamina.fit(model, (X, onehot), loss=Recording(nn.MSELoss(), "real"), optimizer=opt, epochs=1, progress=False)
    assert seen == [np.int64, np.int64, np.float32]
    assert (nn.NLLLoss.target_kind, nn.HuberLoss.target_kind, nn.L1Loss.target_kind) == ("class", "real", "real")
    assert nn.BCELoss.target_kind == nn.BCEWithLogitsLoss.target_kind == nn.MSELoss.target_kind == "real"



def test_cyclic_lr_steps_every_batch_and_bad_interval_is_refused():
    X, y = blobs(n=40)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3)
    history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=2, batch_size=8,
                         scheduler=sched, progress=False)
    assert sched.last_epoch == 10
    assert history["lr"] == pytest.approx([0.01, 0.01 + 0.09 * 1 / 3])  # epoch 2 starts 5 steps in: 6 - 5 = 1
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_interval must be 'epoch' or 'batch', got 'step'"):
        lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, progress=False,
                   scheduler=optim.lr_scheduler.StepLR(opt, step_size=1), scheduler_interval="step")
