"""TrainingHealth: flags dead ReLUs, vanishing gradients and symmetric units, and stays silent on a healthy net."""

import json
import warnings

import numpy as np
import pytest

import lamina
from lamina import nn, optim, viz


def train(model, X, y, epochs=3, lr=0.01):
    health = viz.TrainingHealth()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=lr),
                   epochs=epochs, callbacks=[health], progress=False, batch_size=32)
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == health.warnings
    return health


def data(n=256, features=8, classes=3):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, features)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5).astype(np.int64) * (classes > 2)


def test_a_healthy_network_gives_no_warning_and_records_every_quantity_per_epoch():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    health = train(model, *data())
    assert health.warnings == []
    assert set(health.history["1"]) == {"activation_mean", "activation_std", "dead_fraction", "activation_quantiles"}
    assert set(health.history["0"]) == {"grad_norm", "update_ratio", "grad_quantiles"}
    assert len(health.history["0"]["grad_norm"]) == 3
    for q in health.history["1"]["activation_quantiles"] + health.history["0"]["grad_quantiles"]:
        assert len(q) == 7 and q == sorted(q)
    assert health.history["1"]["activation_quantiles"][0][0] == 0.0  # a ReLU's minimum
    assert 0 < health.history["0"]["update_ratio"][0] < 0.1
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed after training


def test_dead_relus_are_flagged_by_layer_name():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    with lamina.no_grad():
        model[0].bias.fill_(-20.0)  # no input reaches a positive pre-activation
    health = train(model, *data())
    assert health.history["1"]["dead_fraction"][-1] == 1.0
    assert len(health.warnings) == 1 and "ReLU units of layer '1' are dead" in health.warnings[0]


def test_vanishing_gradients_in_a_deep_sigmoid_network_are_flagged():
    lamina.manual_seed(0)
    layers = [nn.Linear(8, 16), nn.Sigmoid()]
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 3))
    health = train(model, *data(), epochs=1)
    assert any("gradients vanish: layer '0'" in w for w in health.warnings), health.warnings
    assert "saturated_fraction" in health.history["1"]


def test_symmetric_initialisation_is_flagged():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 3))
    with lamina.no_grad():
        model[0].weight.fill_(0.1)
    health = train(model, *data(), epochs=1)
    assert any("4 units of layer '0' are identical" in w for w in health.warnings), health.warnings
    assert not any("layer '2'" in w for w in health.warnings)


def test_exploding_gradients_are_flagged():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    health = viz.TrainingHealth(explode_norm=1e-6)  # every gradient counts as exploding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lamina.fit(model, data(), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.01),
                   epochs=1, callbacks=[health], progress=False)
    assert sorted(w.split("'")[1] for w in health.warnings if "explode" in w) == ["0", "2"]


def test_fit_runs_it_by_default_and_health_false_turns_it_off():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    kwargs = dict(loss=nn.CrossEntropyLoss(), epochs=2, progress=False)
    history = lamina.fit(model, data(), optimizer=optim.SGD(model.parameters(), lr=0.1), **kwargs)
    assert isinstance(history.health, viz.TrainingHealth) and len(history.health.history["0"]["grad_norm"]) == 2
    assert lamina.fit(model, data(), optimizer=optim.SGD(model.parameters(), lr=0.1), health=False,
                      **kwargs).health is None
    mine = viz.TrainingHealth(every=1)
    history = lamina.fit(model, data(), optimizer=optim.SGD(model.parameters(), lr=0.1), callbacks=[mine], **kwargs)
    assert history.health is mine  # not a second one
    json.dumps(mine.to_dict())


def test_every_kth_batch_is_sampled_and_its_hooks_are_attached_only_then():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    seen = []
    model[1].register_forward_pre_hook(lambda m, args: seen.append(len(m._forward_hooks)))
    health = viz.TrainingHealth(every=3)
    lamina.fit(model, data(n=320), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
               epochs=1, batch_size=32, callbacks=[health], progress=False)
    assert seen == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]  # 10 batches: 0, 3, 6 and 9 are watched
    assert health.state.history.health is health and not model[1]._forward_hooks
    with pytest.raises(ValueError, match="every must be a positive integer"):
        viz.TrainingHealth(every=0)


def test_a_module_with_several_weights_names_each_one_and_a_checkpoint_keeps_the_records(tmp_path):
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 6, batch_first=True)
            self.head = nn.Linear(6, 2)

        def forward(self, x):
            return self.head(self.lstm(x)[0][:, -1])

    lamina.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(64, 5, 4)).astype(np.float32)
    y = (X[:, :, 0].sum(1) > 0).astype(np.int64)
    model = Tagger()
    kwargs = dict(loss=nn.CrossEntropyLoss(), progress=False, checkpoint=tmp_path / "ckpt")
    history = lamina.fit(model, (X, y), optimizer=optim.Adam(model.parameters(), lr=0.01), epochs=1,
                         callbacks=[viz.TrainingHealth()], **kwargs)
    assert set(history.health.history) == {"lstm.weight_ih_l0", "lstm.weight_hh_l0", "head"}
    assert len(history.health.history["head"]["grad_norm"]) == 1
    history = lamina.fit(model, (X, y), optimizer=optim.Adam(model.parameters(), lr=0.01), epochs=2, resume=True,
                         callbacks=[viz.TrainingHealth()], **kwargs)
    assert len(history.health.history["head"]["grad_norm"]) == 2  # the first epoch's came back from the checkpoint


def test_the_health_plots_draw_from_the_callback_or_its_json(tmp_path):
    pytest.importorskip("matplotlib")
    from lamina import plot

    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.Sigmoid(), nn.Linear(8, 3))
    history = lamina.fit(model, data(), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
                         epochs=3, progress=False)
    saved = json.loads(json.dumps(history.health.to_dict()))
    for source in (history.health, saved):
        for path in (plot.plot_health(source, tmp_path / "h.png"),
                     plot.plot_health_quantiles(source, tmp_path / "a.png"),
                     plot.plot_health_quantiles(source, tmp_path / "g.png", quantity="grad")):
            assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="'activation' or 'grad'"):
        plot.plot_health_quantiles(saved, tmp_path / "x.png", quantity="weights")
    with pytest.raises(ValueError, match="TrainingHealth"):
        plot.plot_health({"loss": [1.0]}, tmp_path / "x.png")


@pytest.mark.parametrize("small", [0, 10**6], ids=["each-tensor-at-once", "batched-over-epochs"])
def test_the_records_equal_torch_s_numbers_on_either_path(monkeypatch, small):
    """One full batch, one epoch: the records against torch's activations and gradients, whether every tensor is
    reduced at once (SMALL = 0) or copied and summed with other epochs' (every tensor counts as small)."""
    torch = pytest.importorskip("torch")
    from lamina.training import health as module

    monkeypatch.setattr(module, "SMALL", small)
    lamina.manual_seed(0)
    X, y = data(n=32)
    model = nn.Sequential(nn.Linear(8, 12), nn.Tanh(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    with lamina.no_grad():
        model[0].weight.mul_(4.0)  # some tanh outputs saturate
        model[2].bias[:3] = -10.0  # three ReLU units never fire
    ours = nn.Sequential(nn.Linear(8, 12), nn.Tanh(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.Tanh(), torch.nn.Linear(12, 8), torch.nn.ReLU(),
                                 torch.nn.Linear(8, 3))
    with torch.no_grad():
        for t, p in zip(theirs.parameters(), model.parameters()):
            t.copy_(torch.from_numpy(p.array.copy()))
    ours.load_state_dict(model.state_dict())
    a1 = theirs[1](theirs[0](torch.from_numpy(X)))
    a3 = theirs[3](theirs[2](a1))
    torch.nn.functional.cross_entropy(theirs[4](a3), torch.from_numpy(y)).backward()
    health = viz.TrainingHealth(every=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lamina.fit(ours, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(ours.parameters(), lr=0.1),
                   epochs=1, batch_size=32, callbacks=[health], progress=False)
    h = health.history
    a1, a3 = a1.detach().numpy(), a3.detach().numpy()
    assert h["1"]["activation_mean"][0] == pytest.approx(a1.mean(), rel=1e-5)
    assert h["1"]["activation_std"][0] == pytest.approx(a1.std(), rel=1e-5)
    assert h["1"]["saturated_fraction"][0] == np.mean(np.abs(a1) > 0.99) > 0
    assert h["1"]["activation_quantiles"][0] == pytest.approx(np.sort(a1.ravel())[[0, 19, 96, 192, 287, 364, 383]])
    assert h["3"]["activation_mean"][0] == pytest.approx(a3.mean(), rel=1e-5)
    assert h["3"]["dead_fraction"][0] == np.mean(a3.max(axis=0) <= 0) == 3 / 8
    for layer, t in (("0", theirs[0]), ("2", theirs[2]), ("4", theirs[4])):
        g, w = t.weight.grad.numpy(), t.weight.detach().numpy()
        assert h[layer]["grad_norm"][0] == pytest.approx(np.linalg.norm(g), rel=1e-5)
        assert h[layer]["update_ratio"][0] == pytest.approx(0.1 * np.linalg.norm(g) / np.linalg.norm(w), rel=1e-4)
        ranks = np.rint(np.asarray(module.QUANTILES) * (g.size - 1))  # the nearest ranks (all values pooled)
        assert h[layer]["grad_quantiles"][0] == pytest.approx(np.sort(g.ravel())[ranks.astype(int)], rel=1e-5)


@pytest.mark.parametrize("n, every", [(40, 16), (320, 3)], ids=["2-batches-every-16", "10-batches-every-3"])
def test_every_epoch_has_a_record_of_every_quantity(n, every):
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.Sigmoid(), nn.Linear(8, 3))
    health = viz.TrainingHealth(every=every)
    lamina.fit(model, data(n=n), loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=0.01),
               epochs=5, batch_size=32, callbacks=[health], progress=False)
    weight = {"grad_norm", "grad_quantiles", "update_ratio"}
    act = {"activation_mean", "activation_std", "activation_quantiles"}
    assert {k: set(v) for k, v in health.history.items()} == {
        "0": weight, "1": act | {"dead_fraction"}, "2": weight, "3": act | {"saturated_fraction"}, "4": weight}
    assert all(len(values) == 5 for records in health.history.values() for values in records.values())


class Clock:
    """A clock that moves 0.1 s on at each reading."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.1
        return self.now


def test_when_epochs_are_summed_follows_the_clock_and_changes_no_record_and_no_training_number():
    """Small tensors' statistics wait for later epochs': until 128 epochs wait or `latency` seconds passed since the
    first of them ended (the clock is read once an epoch). The records and warnings are the same whenever that
    happens, and training computes the same numbers with the callback as without it."""
    runs = []
    for latency in (0.0, 0.25, 1e9, None):
        lamina.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
        with lamina.no_grad():
            model[0].bias[:12] = -20.0  # most ReLU units dead: a warning
        callbacks = []
        if latency is not None:
            callbacks = [viz.TrainingHealth(latency=latency, warn=False)]
            callbacks[0].clock = Clock()
        history = lamina.fit(model, data(n=64), loss=nn.CrossEntropyLoss(), epochs=40, batch_size=32,
                             optimizer=optim.Adam(model.parameters(), lr=0.01), callbacks=callbacks, progress=False,
                             health=latency is not None)
        runs.append((history.health, history.history["loss"], [p.array.copy() for p in model.parameters()]))
    assert [health.flushes for health, _, _ in runs[:3]] == [40, 10, 1]  # every epoch; every 4th; at the end
    first = json.dumps(runs[0][0].to_dict())
    assert all(json.dumps(health.to_dict()) == first for health, _, _ in runs[1:3])
    assert len(runs[0][0].warnings) == 1 and "'1' are dead" in runs[0][0].warnings[0]
    for _, loss, params in runs[1:]:
        assert loss == runs[0][1] and all(np.array_equal(a, b) for a, b in zip(params, runs[0][2]))
    with pytest.raises(ValueError, match="latency must be a number of seconds"):
        viz.TrainingHealth(latency=-1)
