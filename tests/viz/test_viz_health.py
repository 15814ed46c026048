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
