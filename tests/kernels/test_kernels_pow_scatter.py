"""The kernels of x**3, x**4 (kernels/elementwise.py) and of a table's row scatter-add (kernels/index.py) against the
NumPy code they mirror, bit for bit; and the ops that use them against PyTorch and against themselves without them."""

import numpy as np
import pytest

import lamina
from lamina import kernels
from lamina.ops.embedding import scatter_add_rows

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

SPECIAL = np.float32([np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 1e13, -1e13, 0.5, -0.5, -3.0, 2.5])


def values(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([(rng.standard_normal(n) * rng.choice([0.01, 1, 10, 100], n)).astype(np.float32), SPECIAL])


def same_bits(a, b):
    numbers = ~np.isnan(a)
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a[numbers]), np.signbit(b[numbers]))


def test_power_kernels_are_the_numpy_products_bit_for_bit():
    a, g = values(seed=0), values(seed=1)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        assert same_bits(kernels.cube(a), a * a * a)
        assert same_bits(kernels.fourth(a), (a * a) * (a * a))
        assert same_bits(kernels.cube_backward(g, a), g * (np.float32(3) * (a * a)))
        assert same_bits(kernels.fourth_backward(g, a), g * (np.float32(4) * (a * a * a)))
        b = a[::3]
        assert same_bits(kernels.cube(b), b * b * b)  # any memory layout (a ufunc)


@pytest.mark.parametrize("n", [3, 3.0, 4, 4.0, 2, 5, -1])
def test_small_integer_powers_match_torch_and_the_numpy_code(n):
    torch = pytest.importorskip("torch")
    x0 = np.concatenate([np.random.default_rng(2).standard_normal(200) * 3, [0, -0.0, -2, 1.5]]).astype(np.float32)
    w = np.linspace(-1, 1, x0.size, dtype=np.float32)
    results = []
    for lib, on in ((lamina, True), (lamina, False), (torch, None)):
        with kernels.set_enabled(bool(on)), np.errstate(divide="ignore", invalid="ignore"):
            x = lib.tensor(x0, requires_grad=True)
            y = x.pow(n)
            (y * lib.tensor(w)).sum().backward()
            results.append((y.detach().numpy(), x.grad.numpy()))
    (fused, plain, theirs) = results
    for a, b, c in zip(fused, plain, theirs):
        assert same_bits(a, b)  # the kernels change nothing
        np.testing.assert_allclose(a, c, rtol=2e-7, atol=0)  # negative bases, zeros: PyTorch's values


@pytest.mark.parametrize("d", [1, 8, 9, 64])
def test_scatter_add_rows_kernel_matches_the_numpy_code(d):
    rng = np.random.default_rng(d)
    index = rng.integers(0, 50, 700)
    index[:40] = 7  # a long run of one index
    rows = rng.standard_normal((700, d)).astype(np.float32)
    got = scatter_add_rows(index, rows, 60)
    with kernels.set_enabled(False):
        want = scatter_add_rows(index, rows, 60)  # np.bincount (float64 sums) or sort and np.add.reduceat
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    in_order = np.zeros((60, d), np.float32)
    np.add.at(in_order, index, rows)  # the general scatter adds in index order, in float32, as the kernel
    assert np.array_equal(got, in_order)
    assert got[50:].sum() == 0 and got.dtype == np.float32


def test_table_lookup_gradient_with_and_without_the_kernel():
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((30, 16)).astype(np.float32)
    idx = rng.integers(-30, 30, (4, 25))  # negative indices count from the end
    grads = []
    for on in (True, False):
        with kernels.set_enabled(on):
            w = lamina.tensor(w0, requires_grad=True)
            out = w[lamina.tensor(idx)]
            (out * lamina.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(out.shape))).sum() \
                .backward()
            grads.append((out.detach().numpy(), w.grad.numpy()))
    assert np.array_equal(grads[0][0], w0[idx]) and np.array_equal(grads[1][0], w0[idx])
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-5, atol=1e-6)
