"""In-place arithmetic on tensors in the graph (h += x, h *= 2) differentiates as in PyTorch."""

import numpy as np
import pytest

import lamina

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)


def run(lib, x0, w0, program):
    x = lib.tensor(x0, requires_grad=True)
    w = lib.tensor(w0, requires_grad=True)
    out = program(x, w)
    out.backward()
    return out.detach().numpy(), x.grad.numpy(), w.grad.numpy()


def rnn_like(x, w):
    h = x * 0.5  # a non-leaf whose value no node saves
    for _ in range(3):
        h += w
        h *= 0.9
        h -= (h * 1).tanh()  # tanh saves its output, not h
        h /= 1.5
    h.add_(w, alpha=2)
    h.sub_(x, alpha=0.5)
    h.mul_(x)  # saves the old h for x's gradient
    h.div_(w.exp())
    return (h * h).sum()


def accumulate(x, w):
    acc = 0 * x.detach()  # a tensor that does not require grad
    acc += x * w  # becomes part of the graph
    acc += x.sin()
    return (acc * acc).sum()


@pytest.mark.parametrize("program", [rnn_like, accumulate])
def test_matches_torch(program):
    x0, w0 = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    for ours, theirs in zip(run(lamina, x0, w0, program), run(torch, x0, w0, program)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_the_tensor_takes_the_new_value_and_grad_fn():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    same = h
    h += 1
    assert h is same and h.tolist() == [3.0, 5.0] and h.grad_fn.name == "AddBackward0"


def test_in_place_on_a_leaf_that_requires_grad_raises_pytorchs_error():
    w = lamina.tensor([1.0], requires_grad=True)
    tw = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w += 1
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        tw += 1
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.mul_(2)


def test_without_graph_in_place_writes_the_same_memory():
    a = lamina.zeros(3)
    view = a[1:]
    view += 1
    assert a.tolist() == [0.0, 1.0, 1.0]
    w = lamina.tensor([1.0], requires_grad=True)
    arr = w.array
    with lamina.no_grad():
        w -= 0.5
    assert w.array is arr and w.is_leaf and w.tolist() == [0.5]


def test_in_place_that_would_change_dtype_or_shape_is_refused():
    i = lamina.tensor([1, 2])
    with pytest.raises(TypeError):
        i += 0.5  # no graph: NumPy's same-kind rule
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += lamina.tensor([0.5, 0.5], requires_grad=True)
    h = lamina.tensor([1.0, 2.0], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        h += lamina.ones(3, 2, requires_grad=True)


def test_a_node_that_used_the_old_value_still_sees_it():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    w = lamina.tensor([3.0, 4.0], requires_grad=True)
    h = x + 1
    y = h * w
    h += 3
    (y * h).sum().backward()
    # d/dw Σ (x+1)·w·(x+4) = (x+1)(x+4);  d/dx = w·(2x+5)
    assert w.grad.tolist() == [10.0, 18.0] and x.grad.tolist() == [21.0, 36.0]
