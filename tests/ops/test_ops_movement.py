"""flip, roll, repeat/tile, repeat_interleave, narrow, movedim, unflatten, diagonal/diag/trace, outer, cumsum,
cumprod, gather, scatter, scatter_add, index_select, masked_select: values and gradients against PyTorch."""

import numpy as np
import pytest

import lamina

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5)).astype(np.float32)
M = rng.standard_normal((4, 4)).astype(np.float32)
V = rng.standard_normal(5).astype(np.float32)


def index(lib, values):
    return lib.tensor(np.asarray(values, dtype=np.int64))


CASES = [
    ("flip", lambda L, x: x.flip((0, 2)), [X]),
    ("flip_neg", lambda L, x: L.flip(x, (-1,)), [X]),
    ("roll", lambda L, x: x.roll(2, 1), [X]),
    ("roll_multi", lambda L, x: x.roll((1, -2), (0, 2)), [X]),
    ("roll_flat", lambda L, x: x.roll(3), [X]),
    ("repeat", lambda L, x: x.repeat(2, 1, 3), [X]),
    ("repeat_more_dims", lambda L, x: x.repeat(2, 1, 1, 2), [X]),
    ("tile", lambda L, x: x.tile((2,)), [X]),
    ("repeat_interleave", lambda L, x: x.repeat_interleave(3, dim=1), [X]),
    ("repeat_interleave_flat", lambda L, x: x.repeat_interleave(2), [X]),
    ("repeat_interleave_tensor", lambda L, x: x.repeat_interleave(index(L, [2, 0, 1, 3]), dim=1), [X]),
    ("repeat_interleave_trailing_zero", lambda L, x: x.repeat_interleave(index(L, [1, 2, 0, 0]), dim=1), [X]),
    ("narrow", lambda L, x: x.narrow(2, 1, 3), [X]),
    ("movedim", lambda L, x: x.movedim(0, -1), [X]),
    ("movedim_two", lambda L, x: x.movedim((0, 1), (2, 0)), [X]),
    ("unflatten", lambda L, x: x.unflatten(1, (2, -1)), [X]),
    ("diagonal", lambda L, x: x.diagonal(), [M]),
    ("diagonal_offset", lambda L, x: x.diagonal(1, 1, 2), [X]),
    ("diagonal_negative", lambda L, x: x.diagonal(-1), [M]),
    ("diag_vector", lambda L, x: x.diag(1), [V]),
    ("diag_matrix", lambda L, x: L.diag(x, -1), [M]),
    ("trace", lambda L, x: x.trace(), [M]),
    ("outer", lambda L, a, b: L.outer(a, b), [V, M[0]]),
    ("cumsum", lambda L, x: x.cumsum(1), [X]),
    ("cumprod", lambda L, x: x.cumprod(2), [X]),
    ("cumprod_zero", lambda L, x: x.cumprod(1), [np.float32([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 2.0],
                                                             [2.0, 1.0, 0.5, 0.0]])]),
    ("gather", lambda L, x: x.gather(1, index(L, [[[0], [3]], [[1], [1]], [[2], [0]]])), [X]),
    ("gather_repeats", lambda L, x: L.gather(x, 0, index(L, [[0, 0, 2, 1], [0, 0, 0, 3]])), [M]),
    ("scatter", lambda L, x, s: x.scatter(1, index(L, [[0, 2], [1, 3], [3, 0], [2, 1]]), s), [M, M[:, :2].copy()]),
    ("scatter_value", lambda L, x: x.scatter(0, index(L, [[1, 2, 0, 3]]), 7.0), [M]),
    ("scatter_add", lambda L, x, s: x.scatter_add(1, index(L, [[0, 0], [1, 3], [3, 3], [2, 1]]), s),
     [M, M[:, :2].copy()]),
    ("index_select", lambda L, x: x.index_select(2, index(L, [4, 0, 4, 1])), [X]),
    ("masked_select", lambda L, x: x.masked_select(L.tensor(M > 0)), [M]),
]


@pytest.mark.parametrize("name, f, inputs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, f, inputs):
    results = []
    for lib in (lamina, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in inputs]
        out = f(lib, *xs)
        w = np.linspace(-1, 1, int(np.prod(out.shape)), dtype=np.float32).reshape(tuple(out.shape))
        (out * lib.tensor(w)).sum().backward()
        results.append([out.detach().numpy()] + [x.grad.numpy() for x in xs])
    for ours, theirs in zip(*results):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_integer_cumsum_and_errors():
    assert lamina.tensor([1, 2, 3]).cumsum(0).tolist() == [1, 3, 6]
    assert str(lamina.tensor([True, True]).cumsum(0).dtype) == "int64"
    with pytest.raises(IndexError, match="Dimension out of range"):
        lamina.ones(2, 3).flip(2)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        lamina.ones(2, 3).repeat(2)
    with pytest.raises(RuntimeError, match="Supports 1D or 2D"):
        lamina.ones(2, 2, 2).diag()


EXTRA = [
    ("einsum_matmul", lambda L, a, b: L.einsum("ij,jk->ik", a, b), [M, X[0]]),
    ("einsum_batch", lambda L, a, b: L.einsum("bij,bkj->bik", a, b), [X, X[:, :2].copy()]),
    ("einsum_sum_away", lambda L, a, b: L.einsum("ij,k->j", a, b), [M, V]),
    ("einsum_implicit", lambda L, a: L.einsum("ij", a), [M]),
    ("einsum_list", lambda L, a, b: L.einsum("i,j", [a, b]), [V, M[0]]),
    ("cross", lambda L, a, b: L.cross(a, b, dim=1), [X[:, :3, 0].copy(), X[:, :3, 1].copy()]),
    ("nan_to_num", lambda L, a: (a * L.tensor(np.float32([[np.nan, 1, np.inf, -np.inf]] * 4))).nan_to_num(
        nan=0.5, posinf=3.0), [M]),
    ("dist", lambda L, a, b: L.dist(a, b, 3), [M, M.T.copy()]),
]


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")  # 0·inf in nan_to_num's input product
@pytest.mark.parametrize("name, f, inputs", EXTRA, ids=[c[0] for c in EXTRA])
def test_extra_matches_torch(name, f, inputs):
    test_matches_torch(name, f, inputs)


def test_non_differentiable_queries_match_torch():
    a = np.float32([[0, 1.5, np.inf], [-np.inf, 0, np.nan]])
    for name in ("isinf", "isposinf", "isneginf", "nonzero", "count_nonzero"):
        assert getattr(lamina.tensor(a), name)().tolist() == getattr(torch.tensor(a), name)().tolist()
    assert [t.tolist() for t in lamina.tensor(a).nonzero(as_tuple=True)] == \
        [t.tolist() for t in torch.tensor(a).nonzero(as_tuple=True)]
    assert [t.tolist() for t in lamina.where(lamina.tensor(a > 0))] == [t.tolist() for t in torch.where(
        torch.tensor(a > 0))]
    b = np.float32([1.0, 2.0, np.nan])
    assert lamina.isclose(lamina.tensor(b), lamina.tensor(b + 1e-6), equal_nan=True).tolist() == \
        torch.isclose(torch.tensor(b), torch.tensor(b + 1e-6), equal_nan=True).tolist()
    for kwargs in ({"bins": 4, "min": 0, "max": 3}, {"bins": 5}):
        x = np.float32([1, 2, 1, 2.5, -1, 7])
        assert lamina.histc(lamina.tensor(x), **kwargs).tolist() == torch.histc(torch.tensor(x), **kwargs).tolist()


@pytest.mark.parametrize("shape, idx", [((6, 3), [[0, 5], [-1, 2], [0, 0]]), ((7,), [3, 3, -7, 6]),
                                        ((4, 2, 2), [1, 1, 1]), ((5, 20), [0, 4, 4, 2, -2])])
def test_table_lookup_gradient_sums_repeats_as_torch(shape, idx):
    w = rng.standard_normal(shape).astype(np.float32)
    results = []
    for lib in (lamina, torch):
        t = lib.tensor(w, requires_grad=True)
        out = t[lib.tensor(idx)]
        (out * lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape)))).sum().backward()
        results.append((out.detach().numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


ORDER = np.float32([[1, 3, 3, 2, 3, -1], [2, 2, 1, 1, 0, 5], [0.5, -2, 4, 4, 1, 0.5]])


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extremes_match_torch_with_ties(name):
    results = []
    for lib in (lamina, torch):
        x = lib.tensor(ORDER, requires_grad=True)
        values, indices = getattr(x, name)(1)
        (values * lib.tensor(np.linspace(-1, 1, values.numel(), dtype=np.float32).reshape(values.shape))).sum() \
            .backward()
        results.append((values.detach().numpy(), indices.numpy(), x.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("call", [lambda x: x.kthvalue(2, 1), lambda x: x.kthvalue(3, 0, keepdim=True),
                                  lambda x: x.median(1), lambda x: x.median(0, keepdim=True), lambda x: x.mode(1),
                                  lambda x: x.mode(0)])
def test_order_statistics_match_torch(call):
    results = []
    for lib in (lamina, torch):
        x = lib.tensor(ORDER, requires_grad=True)
        values, indices = call(x)
        values.sum().backward()
        results.append((x, values.detach().numpy(), indices.numpy(), x.grad.numpy()))
    (_, values, indices, grad), (_, t_values, _, t_grad) = results
    np.testing.assert_array_equal(values, t_values)
    dim = 1 if values.shape[0] == 3 else 0
    picked = np.take_along_axis(ORDER, indices if indices.ndim == 2 else np.expand_dims(indices, dim), axis=dim)
    assert np.array_equal(picked.reshape(values.shape), values)  # indices name the value (ties may differ)
    assert np.array_equal(grad.sum(axis=dim), t_grad.sum(axis=dim))  # one unit of gradient per slice


def test_mode_indices_are_the_last_occurrence_and_median_propagates_nan():
    assert lamina.tensor(ORDER).mode(1).indices.tolist() == torch.tensor(ORDER).mode(1).indices.tolist()
    a = np.float32([1.0, np.nan, 0.0])
    ours, theirs = lamina.tensor(a).median(0), torch.tensor(a).median(0)
    assert np.isnan(ours.values.item()) and ours.indices.item() == theirs.indices.item() == 1
    assert lamina.tensor(ORDER).median().item() == torch.tensor(ORDER).median().item()


def test_unique_meshgrid_index_add_cdist_erfinv():
    v = [3, 1, 3, 2, 2, 9]
    ours = lamina.unique(lamina.tensor(v), return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(v), return_inverse=True, return_counts=True)
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    for indexing in ("ij", "xy"):
        ours = lamina.meshgrid(lamina.arange(2), lamina.arange(3), lamina.arange(4), indexing=indexing)
        theirs = torch.meshgrid(torch.arange(2), torch.arange(3), torch.arange(4), indexing=indexing)
        assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    compare_grads = []
    for lib in (lamina, torch):
        x = lib.tensor(M, requires_grad=True)
        s = lib.tensor(X[0, :3, :4].copy(), requires_grad=True)
        out = x.index_add(0, lib.tensor([3, 0, 3]), s, alpha=2.0)
        a = lib.tensor(X[0], requires_grad=True)
        b = lib.tensor(np.concatenate([X[1, :2], X[0, :1]]), requires_grad=True)  # one row equal: distance 0
        d = lib.cdist(a, b) + lib.cdist(a, b, p=1)
        e = lib.tensor(np.float32([-0.99, -0.5, 0.0, 0.3, 0.9999]), requires_grad=True)
        (out.sum() * 1 + (out * out).sum() + d.sum() + e.erfinv().sum()).backward()
        compare_grads.append([out.detach().numpy(), d.detach().numpy(), e.erfinv().detach().numpy(),
                              x.grad.numpy(), s.grad.numpy(), a.grad.numpy(), b.grad.numpy(), e.grad.numpy()])
    for ours, theirs in zip(*compare_grads):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-5)
