"""The attention's softmax kernels (lamina/kernels/softmax.py) against ops.reduce.Softmax's NumPy code through
scaled_dot_product_attention's _safe_softmax: outputs and gradients to float32 rounding, masked and fully masked
rows (zeros, not NaN), and which inputs take them."""

import numpy as np
import pytest

import lamina
from lamina import kernels
from lamina.nn.functional import attention

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

rng = np.random.default_rng(0)


def _run(z):
    t = lamina.tensor(z, requires_grad=True)
    s = attention._safe_softmax(t)
    weights = np.random.default_rng(1).standard_normal(s.shape).astype(z.dtype)
    (s * lamina.tensor(weights)).sum().backward()
    return type(s.grad_fn).__name__, s.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("shape", [(5, 7), (2, 4, 64, 64), (3, 2, 130)])
def test_the_kernels_equal_the_numpy_softmax(shape):
    z = (rng.standard_normal(shape) * 4).astype(np.float32)
    z[..., 0, :3] = -np.inf  # masked positions
    z[..., 1, :] = -np.inf  # a fully masked row: zeros and no gradient
    op, s, grad = _run(z)
    assert op == "LastDimSafeSoftmax"
    with kernels.set_enabled(False):
        ref_op, s_ref, grad_ref = _run(z)
    assert ref_op != "LastDimSafeSoftmax"
    np.testing.assert_allclose(s, s_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-5, atol=1e-6)
    assert not np.isnan(s).any()
    assert np.all(s[..., 1, :] == 0) and np.all(grad[..., 1, :] == 0)


def test_other_inputs_take_the_numpy_softmax():
    z = rng.standard_normal((3, 4, 5))
    assert _run(z)[0] != "LastDimSafeSoftmax"  # float64
    assert _run(np.asfortranarray(z[0].astype(np.float32)))[0] != "LastDimSafeSoftmax"  # not C-contiguous
