"""Linear, Identity, Flatten: parity with torch, gradcheck, default initialisation, textbook cases."""

import math

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.autograd import gradcheck

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5
rng = np.random.default_rng(0)


def close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(bias, shape):
    ours = nn.Linear(3, 4, bias=bias)
    theirs = torch.nn.Linear(3, 4, bias=bias)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    x = rng.standard_normal(shape).astype(np.float32)
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yl, yt = ours(xl), theirs(xt)
    close(yl.detach().numpy(), yt)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    close(xl.grad.numpy(), xt.grad)
    close(ours.weight.grad.numpy(), theirs.weight.grad)
    if bias:
        close(ours.bias.grad.numpy(), theirs.bias.grad)
    assert yl.grad_fn.name == "LinearBackward0"  # one fused node
    assert yl.dtype == np.float32


def test_linear_gradcheck():
    layer = nn.Linear(3, 2)
    x = lamina.randn(2, 4, 3, requires_grad=True)
    assert gradcheck(lambda x, w, b: nn.functional.linear(x, w, b), [x, layer.weight, layer.bias])


def test_default_init_is_pytorch_uniform_bound_and_seeded():
    lamina.manual_seed(7)
    a = nn.Linear(400, 300)
    lamina.manual_seed(7)
    b = nn.Linear(400, 300)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    bound = 1 / math.sqrt(400)
    w = a.weight.detach().numpy()
    assert w.shape == (300, 400) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    # U(-b, b) has variance b²/3; 120000 draws pin it to well under 1 %
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02 and abs(w.mean()) < 0.01 * bound
    bias = a.bias.detach().numpy()
    assert np.abs(bias).max() <= bound and bias.std() > 0.4 * bound
    c = nn.Linear(400, 300)
    assert not np.array_equal(c.weight.detach().numpy(), w)  # the stream moves on


def test_identity_and_flatten():
    x = lamina.randn(2, 3, 4, 5)
    assert nn.Identity(54, unused=True)(x) is x
    t = torch.from_numpy(x.numpy())
    for args in [(), (0,), (1, 2), (2, -1), (-3, -2)]:
        np.testing.assert_array_equal(nn.Flatten(*args)(x).numpy(), torch.nn.Flatten(*args)(t).numpy())
    with pytest.raises(ValueError, match="out of range"):
        nn.Flatten(5)(x)


def test_three_stacked_linear_layers_equal_one_linear_layer():
    """Without activations, depth adds nothing: W = W3·W2·W1, b = W3·(W2·b1 + b2) + b3."""
    lamina.manual_seed(0)
    deep = nn.Sequential(nn.Linear(5, 7), nn.Linear(7, 6), nn.Linear(6, 3))
    w1, w2, w3 = (deep[i].weight.detach().numpy().astype(np.float64) for i in range(3))
    b1, b2, b3 = (deep[i].bias.detach().numpy().astype(np.float64) for i in range(3))
    single = nn.Linear(5, 3)
    single.load_state_dict({"weight": w3 @ w2 @ w1, "bias": w3 @ (w2 @ b1 + b2) + b3})
    x = lamina.randn(10, 5)
    np.testing.assert_allclose(deep(x).detach().numpy(), single(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_weight_is_kept_in_fortran_order_and_its_gradient_and_optimizer_state_alike(tmp_path):
    # x·Wᵀ is then a plain row-major product for BLAS; the values are the same as in C order
    layer = nn.Linear(5, 3)
    w = layer.weight.detach().numpy()
    assert w.flags.f_contiguous and not w.flags.c_contiguous
    x = lamina.randn(70, 5)  # large enough for BLAS (not the tiny-layer kernel)
    layer(x).sum().backward()
    grad = layer.weight.grad.numpy()
    assert grad.flags.f_contiguous and not grad.flags.c_contiguous
    np.testing.assert_allclose(grad, np.ones((70, 3), np.float32).T @ x.numpy(), rtol=1e-5)
    opt = lamina.optim.Adam(layer.parameters())
    opt.step()
    assert opt.state[layer.weight]["exp_avg"].flags.f_contiguous
    restored = lamina.optim.Adam(layer.parameters())
    restored.load_state_dict(opt.state_dict())
    assert restored.state[layer.weight]["exp_avg"].flags.f_contiguous  # so the fused kernel still applies
    lamina.save(layer.state_dict(), tmp_path / "w.safetensors")  # written in C order: the file is layout-free
    np.testing.assert_array_equal(lamina.load(tmp_path / "w.safetensors")["weight"].numpy(), w)
