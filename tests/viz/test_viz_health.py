"""TrainingHealth: flags dead ReLUs, vanishing gradients and symmetric units, and stays silent on a healthy net."""

import warnings

import numpy as np

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
    assert set(health.history["1"]) == {"activation_mean", "activation_std", "dead_fraction"}
    assert set(health.history["0"]) == {"grad_norm", "update_ratio"} and len(health.history["0"]["grad_norm"]) == 3
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
