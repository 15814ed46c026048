"""Tensor.retain_grad and Tensor.register_hook, against PyTorch."""

import numpy as np
import pytest

import lamina

torch = pytest.importorskip("torch")


def both(values):
    a = np.asarray(values, dtype=np.float32)
    return lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def test_retain_grad_fills_a_non_leaf_grad_and_accumulates():
    x, tx = both([1.0, -2.0, 3.0])
    for _ in range(2):
        y, ty = x * x, tx * tx
        y.retain_grad()
        ty.retain_grad()
        (y.sin()).sum().backward()
        (ty.sin()).sum().backward()
        np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-6)
    assert y.retains_grad and not (x * 2).retains_grad
    z = x * 3
    z.sum().backward()
    assert z.grad is None  # not retained: a non-leaf gets no .grad


def test_hooks_see_and_replace_gradients_in_order_then_remove():
    x, tx = both([1.0, 2.0])
    seen, tseen = [], []
    y, ty = x * 3, tx * 3
    h1 = y.register_hook(lambda g: seen.append(g.tolist()))
    y.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: seen.append(("leaf", g.tolist())))
    ty.register_hook(lambda g: tseen.append(g.tolist()))
    ty.register_hook(lambda g: g * 10)
    tx.register_hook(lambda g: tseen.append(("leaf", g.tolist())))
    (y * y).sum().backward(retain_graph=True)
    (ty * ty).sum().backward(retain_graph=True)
    assert seen == tseen
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    h1.remove()
    seen.clear()
    (y * y).sum().backward()
    assert seen == [("leaf", [180.0, 360.0])]


def test_leaf_hook_runs_once_on_the_summed_gradient():
    x, tx = both([2.0])
    calls, tcalls = [], []
    x.register_hook(lambda g: calls.append(g.item()))
    tx.register_hook(lambda g: tcalls.append(g.item()))
    (x * x + x).backward()
    (tx * tx + tx).backward()
    assert calls == tcalls == [5.0]


def test_hooks_run_under_autograd_grad_too():
    x, _ = both([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g + 1)
    (g,) = lamina.autograd.grad(y.sum(), [x])
    assert g.tolist() == [4.0, 4.0]


def test_hook_on_a_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lamina.ones(2).register_hook(lambda g: g)
