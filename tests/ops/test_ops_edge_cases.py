"""PyTorch's answers at the edges: powers at zero and negative bases, scalar type promotion, integer linspace,
mixed basic and advanced indexing, sign's gradient, reductions of 0-d tensors, squeeze out of range."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def grads(lib, f, *values):
    xs = [lib.tensor(np.asarray(v, dtype=np.float32), requires_grad=True) for v in values]
    out = f(*xs)
    out.sum().backward()
    return [out.detach().numpy()] + [x.grad.numpy() for x in xs]


def same(f, *values):
    for ours, theirs in zip(grads(lamina, f, *values), grads(torch, f, *values)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("f, values", [
    (lambda x: x**0, [[0.0, 1.0, -2.0]]),                       # d/dx x⁰ = 0, also at 0
    (lambda x: x**0.5, [[0.0, 4.0]]),                           # inf at 0, as the forward
    (lambda x: x**-1, [[0.0, 2.0]]),
    (lambda x: (-2.0) ** x, [[0.5, 2.0, 3.0]]),                 # ln of a negative base: NaN
    (lambda y: 0.0**y, [[0.0, 1.0, 2.0, -1.0]]),                # 0 where y ≥ 0, −inf where y < 0
    (lambda x, y: x**y, [[0.0, -2.0, 0.0, 3.0], [0.0, 0.5, 2.0, -1.5]]),
])
def test_pow_gradients_at_zero_and_negative_bases(f, values):
    with np.errstate(all="ignore"):
        same(f, *values)


def test_scalar_type_promotion():
    ints = [0, 1, 2, 3]
    for ours, theirs in [(0.7 ** lamina.tensor(ints), 0.7 ** torch.tensor(ints)),
                         (2 ** lamina.tensor(ints), 2 ** torch.tensor(ints)),
                         (lamina.tensor(ints) ** 2, torch.tensor(ints) ** 2),
                         (lamina.tensor(ints) ** 0.5, torch.tensor(ints) ** 0.5),
                         (lamina.tensor(ints) + 0.5, torch.tensor(ints) + 0.5),
                         (lamina.tensor(ints) * 2, torch.tensor(ints) * 2),
                         (lamina.tensor(ints) / 2, torch.tensor(ints) / 2)]:
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        lamina.tensor(ints) ** -1
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        torch.tensor(ints) ** -1


@pytest.mark.parametrize("start, end, steps", [(-5, 5, 4), (0, 10, 7), (-3.5, 2.5, 5), (0.5, 10.7, 9), (7, -7, 6)])
def test_integer_linspace_truncates_toward_zero(start, end, steps):
    ours = lamina.linspace(start, end, steps, dtype=lamina.int64)
    assert ours.tolist() == torch.linspace(start, end, steps, dtype=torch.int64).tolist()


@pytest.mark.parametrize("index", [
    lambda idx: (1, slice(None), slice(3, 11, 2), idx, slice(0, 2)),
    lambda idx: (slice(None), 2, idx),
    lambda idx: (0, Ellipsis, idx),
    lambda idx: (idx, slice(None), 1),
    lambda idx: (1, None, idx),
])
def test_mixed_basic_and_advanced_indexing_has_pytorchs_layout_and_gradient(index):
    x = np.arange(2 * 3 * 12 * 5 * 4, dtype=np.float32).reshape(2, 3, 12, 5, 4) / 100
    lx, tx = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = lx[index(lamina.tensor([0, 1, 1, 0]))]
    theirs = tx[index(torch.tensor([0, 1, 1, 0]))]
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    w = np.random.default_rng(0).standard_normal(ours.shape).astype(np.float32)
    (ours * lamina.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_sign_is_differentiable_with_zero_gradient():
    same(lambda x: x.sign() * x, [[-2.0, 0.0, 3.0]])
    assert lamina.tensor([1.0], requires_grad=True).sign().requires_grad


@pytest.mark.parametrize("f", [
    lambda t, lib: (F if lib is lamina else TF).silu(t),
    lambda t, lib: (F if lib is lamina else TF).softplus(t),
    lambda t, lib: t.sigmoid(),
    lambda t, lib: t.sum(dim=0),
    lambda t, lib: t.mean(dim=-1),
    lambda t, lib: t.logsumexp(dim=-1),
    lambda t, lib: t.prod(),
])
def test_zero_dimensional_tensors(f):
    ours = lamina.tensor(1.5, requires_grad=True)
    theirs = torch.tensor(1.5, requires_grad=True)
    a, b = f(ours, lamina), f(theirs, torch)
    a.backward()
    b.backward()
    assert a.shape == () and np.isclose(a.item(), b.item()) and np.isclose(ours.grad.item(), theirs.grad.item())


def test_squeeze_of_a_dimension_out_of_range_raises():
    with pytest.raises(IndexError, match="Dimension out of range"):
        lamina.ones(2, 3).squeeze(50)
    with pytest.raises(IndexError):
        torch.ones(2, 3).squeeze(50)
    assert lamina.ones(2, 1).squeeze(-1).shape == (2,)


@pytest.mark.parametrize("name", ["remainder", "fmod", "div_floor", "div_trunc", "mod_operator"])
def test_modulo_and_rounded_division_match_torch(name):
    a = np.float32([5.5, -3.2, 7.0, -7.5])
    b = np.float32([2.0, 2.0, -3.0, -2.0])
    calls = {"remainder": lambda lib, x, y: lib.remainder(x, y), "fmod": lambda lib, x, y: lib.fmod(x, y),
             "div_floor": lambda lib, x, y: lib.div(x, y, rounding_mode="floor"),
             "div_trunc": lambda lib, x, y: lib.div(x, y, rounding_mode="trunc"),
             "mod_operator": lambda lib, x, y: x % y}
    results = []
    for lib in (lamina, torch):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = calls[name](lib, x, y)
        out.sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(), y.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_integer_floor_division_and_modulo_stay_integers():
    a, b = [7, -7, 9], [2, 2, -4]
    for op in (lambda x, y: x // y, lambda x, y: x % y, lambda x, y: x.div(y, rounding_mode="trunc")):
        ours, theirs = op(lamina.tensor(a), lamina.tensor(b)), op(torch.tensor(a), torch.tensor(b))
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == "int64"
    with pytest.raises(ValueError, match="rounding_mode"):
        lamina.div(lamina.ones(1), 2, rounding_mode="round")


def test_new_factories_format_and_sizes():
    x = lamina.tensor([1.0, 2.0], dtype=lamina.float64)
    for ours, theirs in [(x.new_zeros(2, 3), torch.zeros(2, 3, dtype=torch.float64)),
                         (x.new_ones((2,)), torch.ones(2, dtype=torch.float64)),
                         (x.new_full((2,), 3), torch.full((2,), 3.0, dtype=torch.float64)),
                         (x.new_tensor([1, 2]), torch.tensor([1.0, 2.0], dtype=torch.float64))]:
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert x.new_zeros(2, dtype=lamina.int64, requires_grad=False).dtype == lamina.int64
    assert x.new_empty(4).shape == (4,) and x.new_ones(1, requires_grad=True).requires_grad
    assert f"{lamina.tensor(1.23456):.2f}" == f"{torch.tensor(1.23456):.2f}" == "1.23"
    with pytest.raises(TypeError):
        f"{lamina.ones(2):.2f}"
    assert lamina.ones(2, 3).nelement() == 6 and lamina.ones(2).element_size() == 4
    assert lamina.add(lamina.ones(2), 1).tolist() == [2.0, 2.0] and lamina.pow(2.0, lamina.tensor([3.0])).item() == 8


def test_numpy_spellings_and_dtype_of_reductions():
    x = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    for name in ("sum", "mean", "std", "var", "amax", "amin", "prod", "argmax", "argmin"):
        ours = getattr(lamina.tensor(x), name)(axis=1, keepdims=True)
        theirs = getattr(torch.tensor(x), name)(axis=1, keepdims=True)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    values, indices = lamina.tensor(x).max(axis=0)
    assert values.tolist() == torch.tensor(x).max(axis=0).values.tolist() and indices.tolist() == [2, 2, 2, 2]
    for name in ("all", "any"):
        assert getattr(lamina.tensor(x > 0), name)(dim=1, keepdim=True).tolist() == \
            getattr(torch.tensor(x > 0), name)(dim=1, keepdim=True).tolist()
    assert lamina.tensor([1, 2], dtype=lamina.int32).sum(dtype=lamina.float32).dtype == lamina.float32
    with pytest.raises(TypeError, match="unexpected keyword argument 'axes'"):
        lamina.ones(2).sum(axes=0)


def test_bit_and_logical_operations_match_torch():
    a, b = [5, 3, -8, 12], [3, 6, 2, 1]
    for op in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: x << y, lambda x, y: x >> y,
               lambda x, y: ~x, lambda x, y: x.bitwise_xor(y), lambda x, y: x.logical_and(y),
               lambda x, y: x.logical_xor(y), lambda x, y: x.logical_not(), lambda x, y: 3 & x):
        assert op(lamina.tensor(a), lamina.tensor(b)).tolist() == op(torch.tensor(a), torch.tensor(b)).tolist()
    p, q = [True, False, True], [True, True, False]
    for op in (lambda x, y: x ^ y, lambda x, y: ~x, lambda x, y: x | y, lambda x, y: x & y):
        assert op(lamina.tensor(p), lamina.tensor(q)).tolist() == op(torch.tensor(p), torch.tensor(q)).tolist()


@pytest.mark.parametrize("pad", [(-1, 2), (1, -2, -1, 0), (-2, -1, 0, 3)])
def test_negative_constant_padding_crops_as_torch(pad):
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    results = []
    for lib, f in ((lamina, F.pad), (torch, TF.pad)):
        t = lib.tensor(x, requires_grad=True)
        out = f(t, pad, value=7.0)
        (out * lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape)))).sum() \
            .backward()
        results.append((out.detach().numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    with pytest.raises(ValueError, match="needs mode='constant'"):
        F.pad(lamina.ones(3, 3), (-1, 1), mode="reflect")
