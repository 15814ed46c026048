"""Bad input to a layer names the layer by its place in the model (model.2, model.encoder.0) and both shapes."""

import re

import numpy as np
import pytest

import lamina
from lamina import nn

LINEAR = "Linear(in_features=784, out_features=128, bias=True)"
EXPECTED = "expected input with 784 features in the last dimension, got shape (32, 64)"


class AutoEncoder(nn.Module):
    def __init__(self, encoder_first):
        super().__init__()
        self.encoder = nn.Sequential(encoder_first, nn.ReLU())
        self.decoder = nn.ModuleDict({"out": nn.Linear(128, 784)})

    def forward(self, x):
        return self.decoder["out"](self.encoder(x))


def message(model, x):
    with pytest.raises(ValueError) as err:
        model(x)
    assert isinstance(err.value, nn.LayerInputError)
    return str(err.value)


def test_linear_in_sequential_is_named_by_index():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 784), nn.Linear(784, 128))
    model[1] = nn.Identity()  # now 64 features reach the 784-feature layer
    assert message(model, lamina.randn(32, 64)) == f"model.2 ({LINEAR}): {EXPECTED}"


def test_nested_layers_are_named_by_their_path():
    model = AutoEncoder(nn.Linear(784, 128))
    assert message(model, lamina.randn(32, 64)) == f"model.encoder.0 ({LINEAR}): {EXPECTED}"
    deeper = nn.Sequential(nn.Identity(), model)
    assert message(deeper, lamina.randn(32, 64)).startswith(f"model.1.encoder.0 ({LINEAR})")


def test_direct_call_gives_the_layer_description_only():
    assert message(nn.Linear(784, 128), lamina.randn(32, 64)) == f"{LINEAR}: {EXPECTED}"
    assert message(nn.Linear(784, 128), lamina.tensor(1.0)).endswith("got shape ()")


def test_wrong_dtype_is_named():
    model = nn.Sequential(nn.Linear(3, 2))
    x = lamina.tensor(np.zeros((4, 3)))  # NumPy's float64 kept as is
    assert message(model, x) == (
        "model.0 (Linear(in_features=3, out_features=2, bias=True)): expected input of dtype float32 (the layer's), "
        "got float64; convert the input (x.to(lamina.float32)) or the model (model.to(lamina.float64))")
    assert model.double()(x).dtype == np.float64


def test_batchnorm_and_layernorm_are_named():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(6))
    assert message(model, lamina.randn(5, 4)) == (
        "model.2 (BatchNorm1d(6, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)): "
        "expected input with 6 channels in dimension 1, got shape (5, 8)")
    model = AutoEncoder(nn.LayerNorm(100))
    assert message(model, lamina.randn(32, 64)) == (
        "model.encoder.0 (LayerNorm((100,), eps=1e-05, elementwise_affine=True, bias=True)): "
        "expected input with trailing shape (100,), got shape (32, 64)")
    assert re.match(r"model\.0 \(BatchNorm1d\(3,.*\)\): expected more than 1 value per channel",
                    message(nn.Sequential(nn.BatchNorm1d(3)), lamina.randn(1, 3)))


def test_layer_not_registered_keeps_its_own_description():
    class Adhoc(nn.Module):
        def forward(self, x):
            return nn.Linear(784, 128)(x)  # created on the fly: no place in the model

    assert message(Adhoc(), lamina.randn(32, 64)) == f"{LINEAR}: {EXPECTED}"


def test_functional_forms_name_themselves_and_the_calling_module_takes_their_errors_over():
    F = nn.functional
    with pytest.raises(nn.LayerInputError, match=r"^linear: " + re.escape(EXPECTED) + "$"):
        F.linear(lamina.randn(32, 64), lamina.randn(128, 784))
    with pytest.raises(ValueError, match=r"^layer_norm: expected input with trailing shape \(4,\)"):
        F.layer_norm(lamina.randn(2, 3), 4)

    class Custom(nn.Module):  # a layer of one's own that calls the functional form
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(lamina.randn(128, 784))

        def forward(self, x):
            return F.linear(x, self.weight)

    model = nn.Sequential(nn.Identity(), Custom())
    assert message(model, lamina.randn(32, 64)) == f"model.1 (Custom()): {EXPECTED}"
