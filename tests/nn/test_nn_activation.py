"""Activation modules and their functional forms: values and gradients against torch, gradcheck."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.autograd import gradcheck
from lamina.nn import functional as F

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)

# (id, lamina module, torch module)
MODULES = [
    ("relu", nn.ReLU(), torch.nn.ReLU()),
    ("leaky_relu", nn.LeakyReLU(), torch.nn.LeakyReLU()),
    ("leaky_relu_0.2", nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    ("sigmoid", nn.Sigmoid(), torch.nn.Sigmoid()),
    ("tanh", nn.Tanh(), torch.nn.Tanh()),
    ("softmax_1", nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    ("softmax_-1", nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
    ("softmax_0", nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
    ("log_softmax_1", nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
    ("log_softmax_-1", nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
    ("gelu", nn.GELU(), torch.nn.GELU()),
    ("gelu_tanh", nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    ("elu", nn.ELU(), torch.nn.ELU()),
    ("elu_0.5", nn.ELU(alpha=0.5), torch.nn.ELU(alpha=0.5)),
    ("silu", nn.SiLU(), torch.nn.SiLU()),
    ("softplus", nn.Softplus(), torch.nn.Softplus()),
    ("softplus_beta2_thr5", nn.Softplus(beta=2.0, threshold=5.0), torch.nn.Softplus(beta=2.0, threshold=5.0)),
]


@pytest.mark.parametrize("name,ours,theirs", MODULES, ids=[m[0] for m in MODULES])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_activation_matches_torch(name, ours, theirs, shape):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yl, yt = ours(xl), theirs(xt)
    assert yl.dtype == np.float32
    np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(shape).astype(np.float32)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,ours,theirs", MODULES, ids=[m[0] for m in MODULES])
def test_activation_gradcheck(name, ours, theirs):
    x = lamina.tensor(rng.standard_normal((3, 4)) * 2, requires_grad=True)
    assert gradcheck(ours, [x])


def test_extreme_inputs_stay_finite():
    x = lamina.tensor([[-1e4, -30.0, 0.0, 30.0, 1e4]], requires_grad=True)
    for act in (nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1), nn.LogSoftmax(dim=1), nn.Softplus(), nn.SiLU(),
                nn.ELU(), nn.GELU()):
        y = act(x)
        y.sum().backward()
        assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(x.grad.numpy())), act
        x.grad = None


def test_functional_forms_match_modules():
    x = lamina.randn(3, 4)
    pairs = [
        (F.relu(x), nn.ReLU()(x)), (F.leaky_relu(x, 0.1), nn.LeakyReLU(0.1)(x)), (F.sigmoid(x), nn.Sigmoid()(x)),
        (F.tanh(x), nn.Tanh()(x)), (F.softmax(x, 1), nn.Softmax(1)(x)), (F.log_softmax(x, dim=0), nn.LogSoftmax(0)(x)),
        (F.gelu(x, approximate="tanh"), nn.GELU("tanh")(x)), (F.elu(x, 0.3), nn.ELU(0.3)(x)),
        (F.silu(x), nn.SiLU()(x)), (F.softplus(x, 2, 10), nn.Softplus(2, 10)(x)),
    ]
    for a, b in pairs:
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_softmax_implicit_dim_follows_pytorch_with_a_warning():
    x = lamina.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(x)
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1, rtol=1e-6)
    with pytest.raises(IndexError, match="out of range"):
        F.softmax(x, dim=2)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_one_hot_and_pad():
    labels = lamina.tensor([[0, 2], [1, 0]])
    np.testing.assert_array_equal(F.one_hot(labels).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor([[0, 2], [1, 0]])).numpy())
    assert F.one_hot(labels, num_classes=5).shape == (2, 2, 5) and F.one_hot(labels).dtype == np.int64
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.one_hot(labels, num_classes=2)
    with pytest.raises(ValueError, match="integer"):
        F.one_hot(lamina.tensor([0.0, 1.0]))
    x = lamina.randn(2, 3)
    np.testing.assert_array_equal(F.pad(x, (1, 2)).numpy(),
                                  torch.nn.functional.pad(torch.from_numpy(x.numpy()), (1, 2)).numpy())
