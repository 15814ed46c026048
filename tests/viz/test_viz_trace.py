"""lamina.viz.trace: each layer's building block, with the textbook's shapes and the gradients backward gives."""

import numpy as np
import pytest

import lamina
from lamina import nn, viz
from lamina.viz.trace import BACKWARD, FORWARD


def setup():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 4), nn.Sigmoid(), nn.Linear(4, 3))
    x = lamina.randn(6, 5)
    y = lamina.tensor([0, 1, 2, 2, 1, 0])
    return model, x, y


def test_one_building_block_per_weighted_layer_with_the_textbook_shapes():
    model, x, y = setup()
    t = viz.trace(model, x, y, nn.CrossEntropyLoss())
    assert len(t) == 3
    assert [layer.modules for layer in t] == [["0: Linear", "1: ReLU"], ["2: Linear", "3: Sigmoid"], ["4: Linear"]]
    widths = [5, 7, 4, 3]
    for layer, n_in, n_out in zip(t, widths, widths[1:]):
        shapes = {key: layer.tensors[key].shape for key in FORWARD + BACKWARD}
        assert shapes == {"a_prev": (6, n_in), "W": (n_out, n_in), "b": (n_out,), "z": (6, n_out), "a": (6, n_out),
                          "dA_prev": (6, n_in), "dW": (n_out, n_in), "db": (n_out,), "dZ": (6, n_out),
                          "dA": (6, n_out)}
        assert all(layer.tensors[k].array.dtype == np.float32 for k in layer.tensors)
    # the layers chain: a[l] of one layer is a[l-1] of the next, dA[l-1] of one is dA[l] of the one below
    for below, above in zip(t, t.layers[1:]):
        np.testing.assert_array_equal(below["a"], above["a_prev"])
        np.testing.assert_array_equal(below["dA"], above["dA_prev"])


def test_gradients_equal_the_parameters_grad_after_backward_and_grad_is_untouched():
    model, x, y = setup()
    t = viz.trace(model, x, y, nn.CrossEntropyLoss())
    assert all(p.grad is None for p in model.parameters())
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    assert t.loss == pytest.approx(loss.item())
    for layer, linear in zip(t, [model[0], model[2], model[4]]):
        np.testing.assert_array_equal(layer["W"], linear.weight.array)
        np.testing.assert_allclose(layer["dW"], linear.weight.grad.array, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(layer["db"], linear.bias.grad.array, rtol=1e-6, atol=1e-8)


def test_the_textbook_formulas_hold():
    model, x, y = setup()
    t = viz.trace(model, x, y, nn.CrossEntropyLoss())
    first, second, last = t.layers
    np.testing.assert_allclose(first["z"], first["a_prev"] @ first["W"].T + first["b"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first["a"], np.maximum(first["z"], 0))
    np.testing.assert_allclose(first["dZ"], first["dA"] * (first["z"] > 0), atol=1e-8)  # dZ = dA·g'(z), ReLU
    s = second["a"]
    np.testing.assert_allclose(second["dZ"], second["dA"] * s * (1 - s), rtol=1e-5, atol=1e-8)  # sigmoid
    for layer in t:  # dW = dZᵀ·a[l-1], db = Σ dZ, dA[l-1] = dZ·W
        np.testing.assert_allclose(layer["dW"], layer["dZ"].T @ layer["a_prev"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(layer["db"], layer["dZ"].sum(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(layer["dA_prev"], layer["dZ"] @ layer["W"], rtol=1e-5, atol=1e-7)
    p = np.exp(last["z"]) / np.exp(last["z"]).sum(1, keepdims=True)  # softmax minus one-hot, over the batch
    np.testing.assert_allclose(last["dZ"], (p - np.eye(3)[y.numpy()]) / 6, rtol=1e-4, atol=1e-7)


def test_table_lists_every_tensor_and_layers_without_weights_are_kept():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1))
    x, y = np.random.default_rng(0).normal(size=(8, 2, 3)).astype(np.float32), np.ones((8, 1), np.float32)
    t = viz.trace(model, x, y, nn.MSELoss())
    assert [layer.modules for layer in t] == [["0: Flatten"], ["1: Linear", "2: BatchNorm1d", "3: Tanh"],
                                              ["4: Linear"]]
    assert "W" not in t[0] and t[0].tensors["a_prev"].shape == (8, 2, 3) and t[0].tensors["a"].shape == (8, 6)
    table = str(t)
    assert table.splitlines()[0].startswith("loss ")
    for name in ("a[0]", "W[2]", "b[2]", "z[2]", "a[2]", "dA[2]", "dZ[2]", "dW[2]", "db[2]", "dA[1]", "dW[3]"):
        assert f" {name} " in table, name
    assert table.index("dA[2]") < table.index("dW[2]") < table.index("dA[1]", table.index("dW[2]"))


def test_errors_name_the_problem():
    model, x, y = setup()
    with pytest.raises(TypeError, match="nn.Module"):
        viz.trace(lambda v: v, x, y, nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="scalar"):
        viz.trace(model, x, y, nn.CrossEntropyLoss(reduction="none"))


def test_figure_has_a_forward_and_a_backward_row_per_layer(tmp_path):
    pytest.importorskip("matplotlib")
    model, x, y = setup()
    path = viz.trace(model, x, y, nn.CrossEntropyLoss()).plot(tmp_path / "trace.png")
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
