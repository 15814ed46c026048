"""The engine's semantics: graph building, gradient accumulation, buffer release, grad mode, errors."""

import numpy as np
import pytest

import lamina
from lamina.autograd import GradcheckError, gradcheck


def test_worked_example_J_equals_3_times_a_plus_bc():
    # the textbook's computation graph: u = b·c, v = a + u, J = 3v
    a = lamina.tensor(5.0, requires_grad=True)
    b = lamina.tensor(3.0, requires_grad=True)
    c = lamina.tensor(2.0, requires_grad=True)
    J = 3 * (a + b * c)
    J.backward()
    assert J.item() == 33.0
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (3.0, 6.0, 9.0)


def test_gradient_of_the_textbook_polynomial():
    # f(x, y, z) = 2/3·x² + y² − 2y + z⁴ − 4/3·z³ has gradient (4, 2, 0) at (3, 2, 1)
    x, y, z = (lamina.tensor(v, dtype=lamina.float64, requires_grad=True) for v in (3.0, 2.0, 1.0))
    f = 2 / 3 * x**2 + y**2 - 2 * y + z**4 - 4 / 3 * z**3
    f.backward()
    assert np.allclose([x.grad.item(), y.grad.item(), z.grad.item()], [4.0, 2.0, 0.0])


def test_sigmoid_derivative_is_a_times_one_minus_a():
    z = lamina.tensor([-3.0, -0.5, 0.0, 0.7, 4.0], requires_grad=True)
    a = z.sigmoid()
    a.sum().backward()
    expected = a.detach().numpy() * (1 - a.detach().numpy())
    assert np.allclose(z.grad.numpy(), expected, rtol=1e-6)


def test_a_tensor_used_twice_receives_the_sum_of_its_gradients():
    x = lamina.tensor(3.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad.item() == 7.0


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    w = lamina.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    assert w.grad.tolist() == [6.0, 6.0]
    w.grad.zero_()
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]


def test_leaf_gradients_never_alias_each_other():
    a = lamina.tensor([1.0, 2.0], requires_grad=True)
    b = lamina.tensor([1.0, 2.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad += 10  # in-place on one leaf's grad must not change the other's
    assert b.grad.tolist() == [1.0, 1.0]


def test_user_gradient_is_not_aliased():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    g = np.ones(2, dtype=np.float32)
    (x * 1).backward(g)
    x.grad += 1
    assert g.tolist() == [1.0, 1.0]


def test_a_chain_of_ten_thousand_ops_needs_no_recursion():
    x = lamina.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert np.isclose(x.grad.item(), 1.0001**10_000, rtol=1e-3)


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows_it():
    x = lamina.tensor(2.0, requires_grad=True)
    y = (x * x).exp()
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    assert np.isclose(x.grad.item(), 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_on_non_scalar_needs_gradient():
    x = lamina.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(lamina.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(lamina.ones(4))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        lamina.tensor(1.0).backward()


def test_no_grad_records_nothing_and_works_as_decorator():
    x = lamina.tensor(1.0, requires_grad=True)
    with lamina.no_grad():
        y = x * 2
        with lamina.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @lamina.no_grad()
    def f(t):
        return t * 3

    @lamina.no_grad
    def g(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert lamina.is_grad_enabled()


def test_in_place_update_of_leaf_requires_no_grad():
    w = lamina.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w -= 1
    with lamina.no_grad():
        w -= 1
    assert w.tolist() == [0.0] and w.is_leaf and w.requires_grad


def test_detach_and_is_leaf_and_grad_fn():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    assert repr(y.grad_fn) == "<MulBackward0>"
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    assert np.shares_memory(d.numpy(), y.array)


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        lamina.tensor([1, 2], requires_grad=True)


def test_gradients_of_unused_branches_are_none():
    x = lamina.tensor(1.0, requires_grad=True)
    w = lamina.tensor(1.0, requires_grad=True)
    (x * 2).backward()
    assert w.grad is None


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    (gx,) = lamina.autograd.grad((x**3).sum(), [x])
    assert gx.tolist() == [3.0, 12.0] and x.grad is None


def test_gradcheck_passes_and_reports_the_worst_element():
    x = lamina.randn(3, 4, requires_grad=True)
    assert gradcheck(lambda t: (t.tanh() * t).sum(dim=1), [x])

    class WrongSquare(lamina.autograd.Function):
        def forward(self, a):
            self.save(a)
            return a * a

        def backward(self, g):
            (a,) = self.saved
            return g * a  # should be 2a

    with pytest.raises(GradcheckError, match="disagrees at index"):
        gradcheck(lambda t: WrongSquare.apply(t), [x])


def test_gradcheck_perturbs_non_contiguous_inputs():
    x = lamina.tensor(np.arange(6.0).reshape(2, 3).T.copy(order="F") + 1, requires_grad=True)
    assert not x.array.flags.c_contiguous
    assert gradcheck(lambda t: (t * t).sum(dim=0), [x])
