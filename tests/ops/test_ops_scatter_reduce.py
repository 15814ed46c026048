"""scatter_reduce (sum, prod, mean, amax, amin; include_self on and off) and the in-place scatters: values and every
gradient against PyTorch (duplicate indices, zeros in products, ties in maxima), gradcheck in float64, errors."""

import numpy as np
import pytest

import lamina
from lamina.autograd import gradcheck

torch = pytest.importorskip("torch")
rng = np.random.default_rng(3)
REDUCES = ["sum", "prod", "mean", "amax", "amin"]

# (x, dim, index, src): 1-d with repeats, 2-d along either dim, 3-d in the middle dim, and values chosen so
# that products meet zeros (one and two per group) and maxima meet ties.
TIES = np.float32([[1, 3, 3, 0], [2, 0, 5, 5], [0, 0, -1, 2]])
CASES = [
    ("1d", np.float32([1, 2, 3, 2, -1]), 0, [0, 0, 1, 3, 2, 0, 3], np.float32([2, 2, 1, 5, 0, -3, 2])),
    ("2d_dim1", rng.standard_normal((3, 5)).astype(np.float32), 1, [[0, 4, 4], [1, 1, 1], [2, 0, 2]],
     rng.standard_normal((3, 3)).astype(np.float32)),
    ("2d_dim0", rng.standard_normal((4, 3)).astype(np.float32), 0, [[3, 0, 1], [3, 0, 0], [1, 0, 3]],
     rng.standard_normal((3, 3)).astype(np.float32)),
    ("3d_middle", rng.standard_normal((2, 4, 3)).astype(np.float32), -2,
     [[[0, 1, 3], [0, 1, 3], [2, 2, 2]], [[3, 3, 0], [1, 0, 0], [1, 2, 3]]],
     rng.standard_normal((2, 3, 3)).astype(np.float32)),
    ("zeros_and_ties", TIES, 1, [[1, 1, 2], [0, 0, 3], [0, 1, 1]], np.float32([[3, 0, 3], [0, 0, 5], [0, 7, 0]])),
]


def run(lib, x0, dim, idx, s0, reduce, include_self, inplace=False):
    x = lib.tensor(x0, requires_grad=True)
    s = lib.tensor(s0, requires_grad=True)
    index = lib.tensor(np.asarray(idx, dtype=np.int64))
    if inplace:
        out = x * 1
        out.scatter_reduce_(dim, index, s, reduce, include_self=include_self)
    else:
        out = lib.scatter_reduce(x, dim, index, s, reduce=reduce, include_self=include_self)
    w = np.linspace(-1, 2, out.numel(), dtype=np.float32).reshape(tuple(out.shape))
    (out * lib.tensor(w)).sum().backward()
    return out.detach().numpy(), x.grad.numpy(), s.grad.numpy()


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(case, reduce, include_self):
    _, x0, dim, idx, s0 = case
    ours = run(lamina, x0, dim, idx, s0, reduce, include_self)
    theirs = run(torch, x0, dim, idx, s0, reduce, include_self)
    for a, b, what in zip(ours, theirs, ("output", "grad of self", "grad of src")):
        assert a.shape == b.shape and a.dtype == b.dtype, what
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=what)


@pytest.mark.parametrize("reduce", ["prod", "amax", "mean"])
def test_inplace_matches_torch(reduce):
    _, x0, dim, idx, s0 = CASES[4]
    for include_self in (True, False):
        ours = run(lamina, x0, dim, idx, s0, reduce, include_self, inplace=True)
        theirs = run(torch, x0, dim, idx, s0, reduce, include_self, inplace=True)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_src_larger_than_index_uses_its_leading_part():
    x, s = np.float32([[1, 2, 3], [4, 5, 6]]), np.arange(12, dtype=np.float32).reshape(3, 4) - 4
    index = [[2, 2], [0, 2]]
    out = lamina.tensor(x).scatter_reduce(1, lamina.tensor(index), lamina.tensor(s), "amin")
    assert out.tolist() == torch.tensor(x).scatter_reduce(1, torch.tensor(index), torch.tensor(s), "amin").tolist()
    src = lamina.tensor(s, requires_grad=True)  # PyTorch's backward rejects this src shape; lamina pads with zeros
    lamina.tensor(x).scatter_reduce(1, lamina.tensor(index), src, "sum").sum().backward()
    assert src.grad.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]


def test_ties_split_the_gradient_evenly_and_products_skip_one_zero():
    x = lamina.tensor([2.0, 7.0], requires_grad=True)
    s = lamina.tensor([2.0, 1.0, 2.0, 2.0], requires_grad=True)
    x.scatter_reduce(0, lamina.tensor([0, 0, 0, 0]), s, "amax").sum().backward()
    assert x.grad.tolist() == [0.25, 1.0] and s.grad.tolist() == [0.25, 0.0, 0.25, 0.25]
    x.grad = s.grad = None  # x's value still counts in the split with include_self=False, as in PyTorch
    x.scatter_reduce(0, lamina.tensor([0, 0, 0, 0]), s, "amax", include_self=False).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0] and s.grad.tolist() == [0.25, 0.0, 0.25, 0.25]
    p = lamina.tensor([3.0, 0.0, 4.0], requires_grad=True)
    lamina.ones(1).scatter_reduce(0, lamina.tensor([0, 0, 0]), p, "prod").backward()
    assert p.grad.tolist() == [0.0, 12.0, 0.0]


@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck(reduce):
    g = np.random.default_rng(4)
    x = lamina.tensor(g.permutation(12).reshape(3, 4) / 4.0 - 1.2, requires_grad=True)  # distinct: no ties
    s = lamina.tensor(g.permutation(9).reshape(3, 3) / 3.0 + 0.15, requires_grad=True)
    idx = lamina.tensor([[0, 0, 2], [1, 3, 3], [2, 2, 2]])
    for include_self in (True, False):
        assert gradcheck(lambda a, b, inc=include_self: a.scatter_reduce(1, idx, b, reduce, include_self=inc), [x, s])
    if reduce == "prod":  # a zero in a product, alone and in pairs
        z = lamina.tensor([[0.0, 2.0, 0.0], [0.0, 0.5, 3.0], [0.0, 0.0, 1.5]], dtype=lamina.float64,
                          requires_grad=True)
        assert gradcheck(lambda a, b: a.scatter_reduce(1, idx, b, "prod"), [x, z])


def test_integer_bool_and_zero_dim_forward_match_torch():
    cases = [([1, 2, -7], [0, 0, 2], [4, 4, 0], "mean", True), ([1, 2, -7], [0, 0, 2], [4, 5, 0], "mean", False),
             ([1, 2, 3], [2, 2, 0], [4, -5, 6], "prod", True), ([1, 2, 3], [1, 1, 1], [4, -5, 6], "amin", False)]
    for x, i, s, reduce, include_self in cases:
        ours = lamina.tensor(x).scatter_reduce(0, lamina.tensor(i), lamina.tensor(s), reduce, include_self=include_self)
        theirs = torch.tensor(x).scatter_reduce(0, torch.tensor(i), torch.tensor(s), reduce, include_self=include_self)
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == "int64"
    ours = lamina.tensor(5.0).scatter_reduce(0, lamina.tensor(0), lamina.tensor(3.0), "sum")
    assert ours.shape == () and ours.item() == 8.0
    nan = lamina.tensor([1.0, 2.0]).scatter_reduce(0, lamina.tensor([0, 0]), lamina.tensor([float("nan"), 4.0]),
                                                   "amax")
    assert np.isnan(nan[0].item()) and nan[1].item() == 2.0  # NaN propagates, as in PyTorch


def test_inplace_scatters_match_torch():
    results = []
    for lib in (lamina, torch):
        x = lib.zeros(3, 4)
        x.scatter_(1, lib.tensor([[1], [3], [0]]), 2.0)
        x.scatter_add_(0, lib.tensor([[2, 2, 0, 1]]), lib.ones(1, 4))
        x.scatter_(0, lib.tensor([[1, 0]]), lib.tensor([[5.0, 6.0]]))
        x.index_add_(1, lib.tensor([3, 3]), lib.ones(3, 2), alpha=0.5)
        x.scatter_reduce_(1, lib.tensor([[0, 0], [1, 1], [2, 2]]), lib.tensor([[-1.0, 9.0], [3.0, 4.0], [0, 0]]),
                          "amax", include_self=False)
        results.append(x.numpy().copy())
    np.testing.assert_array_equal(*results)
    w = lamina.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.scatter_reduce_(0, lamina.tensor([0]), lamina.ones(1), "sum")


@pytest.mark.parametrize("call, message", [
    (lambda L: L.zeros(3).scatter_reduce(0, L.tensor([1]), L.ones(1), "max_of"), "reduce argument must be either"),
    (lambda L: L.zeros(3).scatter_reduce(0, L.tensor([3]), L.ones(1), "sum"), "index 3 is out of bounds"),
    (lambda L: L.zeros(3).scatter_reduce(0, L.tensor([-1]), L.ones(1), "sum"), "index -1 is out of bounds"),
    (lambda L: L.zeros(3, 2).scatter_reduce(0, L.tensor([1]), L.ones(1), "sum"), "same number of dimensions"),
    (lambda L: L.zeros(3, 2).scatter_reduce(0, L.tensor([[1, 1, 1]]), L.ones(1, 3), "sum"), "no larger than self"),
    (lambda L: L.zeros(3, 2).scatter_reduce(0, L.tensor([[1, 1]]), L.ones(1, 1), "sum"), "no larger size than src"),
    (lambda L: L.zeros(3).scatter_reduce(0, L.tensor([1.0]), L.ones(1), "sum"), "Expected dtype int32/int64"),
    (lambda L: L.zeros(3).scatter_reduce(0, L.tensor([1]), L.ones(1, dtype=L.float64), "sum"), "equal to src"),
    (lambda L: L.zeros(3).scatter_reduce(0, L.tensor([1]), 1.0, "sum"), "must be Tensor, not float"),
])
def test_errors_as_torch(call, message):
    for lib in (lamina, torch):
        with pytest.raises((RuntimeError, TypeError), match=message):
            call(lib)
