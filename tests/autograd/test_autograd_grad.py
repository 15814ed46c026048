"""lamina.autograd.grad against torch.autograd.grad: returns gradients, touches no .grad, works for non-leaves."""

import numpy as np
import pytest

import lamina

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)


def pair(shape, requires_grad=True):
    a = rng.standard_normal(shape).astype(np.float32)
    return lamina.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_grad_leaves_every_dot_grad_alone():
    (w, tw), (x, tx) = pair(3), pair(3)
    (gx,) = lamina.autograd.grad((w * x).sum(), [x])
    (tgx,) = torch.autograd.grad((tw * tx).sum(), [tx])
    close(gx, tgx)
    assert w.grad is None and x.grad is None and tw.grad is None  # the bug: w.grad used to be filled


def test_grad_keeps_an_existing_dot_grad_unchanged():
    x, _ = pair(3)
    (x * 2).sum().backward()
    before = x.grad.numpy().copy()
    lamina.autograd.grad((x * x).sum(), [x])
    assert np.array_equal(x.grad.numpy(), before)


def test_grad_with_respect_to_a_non_leaf():
    (x, tx) = pair((2, 3))
    y, ty = x.tanh() * 2, tx.tanh() * 2
    z, tz = (y * y).sum() + y.sum(), (ty * ty).sum() + ty.sum()
    gy, gx = lamina.autograd.grad(z, [y, x])
    tgy, tgx = torch.autograd.grad(tz, [ty, tx])
    close(gy, tgy)
    close(gx, tgx)
    assert x.grad is None


def test_grad_outputs_for_non_scalar_and_several_outputs():
    (x, tx) = pair(4)
    v = rng.standard_normal(4).astype(np.float32)
    a, ta = x.exp(), tx.exp()
    b, tb = x * x, tx * tx
    (g,) = lamina.autograd.grad([a, b], [x], grad_outputs=[lamina.tensor(v), lamina.ones(4)])
    (tg,) = torch.autograd.grad([ta, tb], [tx], grad_outputs=[torch.tensor(v), torch.ones(4)])
    close(g, tg)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        lamina.autograd.grad(x * 2, [x])


def test_retain_graph_allows_a_second_call_and_its_absence_frees():
    (x, _) = pair(3)
    y = (x.exp() * x).sum()
    (g1,) = lamina.autograd.grad(y, [x], retain_graph=True)
    (g2,) = lamina.autograd.grad(y, [x])
    assert np.array_equal(g1.numpy(), g2.numpy())
    with pytest.raises(RuntimeError, match="second time"):
        lamina.autograd.grad(y, [x])


def test_allow_unused():
    (x, tx), (w, tw) = pair(2), pair(2)
    with pytest.raises(RuntimeError, match="not used"):
        lamina.autograd.grad((x * 2).sum(), [x, w])
    with pytest.raises(RuntimeError):
        torch.autograd.grad((tx * 2).sum(), [tx, tw])
    gx, gw = lamina.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)
    tgx, tgw = torch.autograd.grad((tx * 2).sum(), [tx, tw], allow_unused=True)
    close(gx, tgx)
    assert gw is None and tgw is None
    _, gw = lamina.autograd.grad((x * 2).sum(), [x, w], allow_unused=True, materialize_grads=True)
    assert gw.tolist() == [0.0, 0.0]


def test_grad_stops_at_the_non_leaf_asked_for():
    # the part of the graph below y is not run, so its buffers stay and x's backward still works after
    (x, _) = pair(3)
    y = x.exp()
    z = (y * 3).sum()
    (gy,) = lamina.autograd.grad(z, [y])
    assert gy.tolist() == [3.0, 3.0, 3.0]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy()), rtol=1e-6)


def test_backward_inputs_fills_only_those():
    (x, tx), (w, tw) = pair(3), pair(3)
    (x * w).sum().backward(inputs=[x])
    (tx * tw).sum().backward(inputs=[tx])
    close(x.grad, tx.grad)
    assert w.grad is None and tw.grad is None


def test_grad_of_an_input_that_needs_no_grad_is_an_error():
    x = lamina.ones(2)
    w = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        lamina.autograd.grad((x * w).sum(), [x])
