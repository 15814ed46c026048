"""The hashed dropout of large inputs (ops/dropout.py, kernels/dropout.py): the kernel's masks and outputs equal
the NumPy code's bit for bit; the numbers behave as independent uniform draws (kept fraction, neighbours,
bytes); seeded; gradients through the same mask; small masks keep one generator draw per element."""

import numpy as np
import pytest

import lamina
from lamina import kernels
from lamina.nn import functional as F
from lamina.ops import dropout as _dropout

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


def _drop(x, p, seed):
    t = lamina.tensor(x, requires_grad=True)
    y = F.dropout(t, p, generator=lamina.Generator().manual_seed(seed))
    y.backward(lamina.ones(*x.shape) * 3)
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("layout", ["C", "transposed"])
def test_the_kernel_equals_the_numpy_hashed_dropout(p, layout):
    x = np.random.default_rng(0).standard_normal((3, 100, 300)).astype(np.float32)
    x = x if layout == "C" else x.transpose(0, 2, 1)  # a view: the kernel runs on a C-contiguous copy
    y, grad = _drop(x, p, 4)
    with kernels.set_enabled(False):
        y_ref, grad_ref = _drop(x, p, 4)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(grad, grad_ref)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] * np.float32(1 / (1 - p)), rtol=1e-6)
    assert abs((~kept).mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_array_equal(grad, np.float32(3) * np.where(kept, np.float32(1 / (1 - p)), np.float32(0)))


def test_the_hashed_numbers_look_independent_and_uniform():
    u = _dropout.hash_uniform(1 << 20, 12345, 678)
    assert u.dtype == np.uint32
    counts = np.bincount(u >> 24, minlength=256)  # the top byte: a χ² test with 255 degrees of freedom
    expected = u.size / 256
    assert ((counts - expected) ** 2 / expected).sum() < 255 + 5 * np.sqrt(2 * 255)
    for bit in (0, 7, 31):  # single bits, including the lowest, are fair coins
        assert abs(((u >> bit) & 1).mean() - 0.5) < 4 * 0.5 / np.sqrt(u.size)
    f = u.astype(np.float64) / 2**32
    for lag in (1, 2, 64, 4096):  # neighbouring elements (and rows of a mask) uncorrelated
        assert abs(np.corrcoef(f[:-lag], f[lag:])[0, 1]) < 4 / np.sqrt(u.size)
    other = _dropout.hash_uniform(1 << 20, 12346, 678).astype(np.float64) / 2**32  # the next key: unrelated
    assert abs(np.corrcoef(f, other)[0, 1]) < 4 / np.sqrt(u.size)


def test_hashed_masks_are_seeded_and_small_ones_draw_per_element():
    x = lamina.ones(300, 300)
    lamina.manual_seed(1)
    a, b = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    lamina.manual_seed(1)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert not np.array_equal(a, b)
    small = np.ones((10, 10), np.float32)
    rng = np.random.default_rng(7)  # below HASHED elements: one uniform draw per element, as before
    expected = (rng.random((10, 10), dtype=np.float32) >= 0.3) / np.float32(0.7)
    np.testing.assert_array_equal(_drop(small, 0.3, 7)[0], expected.astype(np.float32))
