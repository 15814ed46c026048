"""lamina.plot: every function writes a real PNG; activation derivatives come from autograd."""

import sys

import numpy as np
import pytest

import lamina
from lamina import nn, optim, plot
from lamina.callbacks import GradientMonitor
from lamina.training import History

image = pytest.importorskip("matplotlib.image")


def assert_png(path, min_size=(200, 200)):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(path)
    assert pixels.shape[0] >= min_size[1] and pixels.shape[1] >= min_size[0]
    assert pixels.ndim == 3 and not np.all(pixels == pixels[0, 0])  # not a blank canvas
    return pixels


def xor_model():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    history = lamina.fit(model, (X, y), val=(X, y), loss=nn.CrossEntropyLoss(), metrics=["accuracy"],
                         optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=60, batch_size=4,
                         callbacks=[GradientMonitor()], progress=False)
    return model, history, X, y


def test_history_decision_boundary_and_gradient_norms(tmp_path):
    model, history, X, y = xor_model()
    assert plot.plot_history(history, tmp_path / "h.png") == tmp_path / "h.png"
    pixels = assert_png(tmp_path / "h.png")
    assert pixels.shape[1] > pixels.shape[0]  # loss and accuracy side by side
    assert_png(plot.plot_decision_boundary(model, X, y, tmp_path / "sub" / "db.png"))
    assert_png(plot.plot_gradient_norms(history, tmp_path / "g.png"))
    with pytest.raises(ValueError, match="GradientMonitor"):
        plot.plot_gradient_norms(History(), tmp_path / "none.png")
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot.plot_decision_boundary(model, np.zeros((4, 3)), y, tmp_path / "bad.png")


def test_decision_boundary_colours_follow_the_classifier(tmp_path):
    """A model that says class 1 left of x=0 and class 0 right of it: the two halves differ in colour."""
    model = nn.Linear(2, 2)
    with lamina.no_grad():
        model.weight.copy_(lamina.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        model.bias.zero_()
    X = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float32)
    pixels = assert_png(plot.plot_decision_boundary(model, X, [1, 1, 0, 0], tmp_path / "db.png"))
    h, w = pixels.shape[:2]
    left, right = pixels[h // 2, int(w * 0.3), :3], pixels[h // 2, int(w * 0.7), :3]
    assert np.abs(left - right).sum() > 0.1


def test_lr_comparison_and_confusion_matrix(tmp_path):
    histories = {}
    for lr in (1e-4, 0.05, 5.0):
        h = History()
        for epoch, loss in enumerate(np.linspace(1.0, 0.1 if lr == 0.05 else 0.9, 5)):
            h.record(epoch, {"loss": loss})
        histories[lr] = h
    assert_png(plot.plot_lr_comparison(histories, tmp_path / "lr.png"))
    cm = np.array([[5, 1, 0], [0, 6, 1], [2, 0, 4]])
    assert_png(plot.plot_confusion_matrix(cm, tmp_path / "cm.png", class_names=["a", "b", "c"]))
    with pytest.raises(ValueError, match="square"):
        plot.plot_confusion_matrix(np.ones((2, 3)), tmp_path / "x.png")


def test_activation_derivatives_come_from_autograd(tmp_path):
    curves = plot.activation_curves()
    assert set(curves) == {"relu", "leaky_relu", "tanh", "sigmoid", "gelu"}
    x, fx, dfx = curves["sigmoid"]
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(dfx, s * (1 - s), atol=1e-6)
    x, fx, dfx = curves["tanh"]
    np.testing.assert_allclose(dfx, 1 - np.tanh(x.astype(np.float64)) ** 2, atol=1e-6)
    x, fx, dfx = curves["relu"]
    np.testing.assert_array_equal(dfx[x > 0], 1)
    np.testing.assert_array_equal(dfx[x < 0], 0)
    x, fx, dfx = curves["leaky_relu"]
    np.testing.assert_allclose(dfx[x < 0], 0.1)
    assert_png(plot.plot_activations(tmp_path / "act.png"), min_size=(600, 300))
    with pytest.raises(ValueError, match="unknown activation"):
        plot.activation_curves(["swish"])


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import of it now raises ImportError
    h = History()
    h.record(0, {"loss": 1.0})
    with pytest.raises(ImportError, match=r"pip install lamina\[plot\]"):
        plot.plot_history(h, tmp_path / "h.png")


def test_attention_weights_one_panel_per_head(tmp_path):
    w = np.tril(np.ones((3, 5, 5)))
    w /= w.sum(-1, keepdims=True)
    pixels = assert_png(plot.plot_attention(w, tmp_path / "attention.png", tokens=list("ab c\n"), title="t"))
    assert pixels.shape[1] > pixels.shape[0]  # 3 heads: two columns, two rows, and the colorbar beside them
    assert_png(plot.plot_attention(lamina.tensor(w[0]), tmp_path / "one.png"), min_size=(100, 100))
    with pytest.raises(ValueError, match="4 tokens for 5 key positions"):
        plot.plot_attention(w, tmp_path / "x.png", tokens="abcd")
    with pytest.raises(ValueError, match="expected weights of shape"):
        plot.plot_attention(np.ones(5), tmp_path / "x.png")
