"""The LayerNorm kernels (lamina/kernels/norm.py) against ops.norm.LayerNorm's NumPy code: outputs and every
gradient, to float32 rounding; which calls take them (the last dim, float32, a weight and a bias); and torch."""

import numpy as np
import pytest

import lamina
from lamina import kernels
from lamina.nn import functional as F

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

rng = np.random.default_rng(0)


def _run(x, w, b, normalized_shape, eps=1e-5):
    leaves = [None if a is None else lamina.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.layer_norm(leaves[0], normalized_shape, leaves[1], leaves[2], eps)
    weights = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    (y * lamina.tensor(weights)).sum().backward()
    return type(y.grad_fn).__name__, [y.detach().numpy()] + [t.grad.numpy() for t in leaves if t is not None]


@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 33), (2, 64, 128)])
def test_the_kernels_equal_the_numpy_layer_norm(shape):
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    w, b = rng.standard_normal(shape[-1]).astype(np.float32), rng.standard_normal(shape[-1]).astype(np.float32)
    op, fused = _run(x, w, b, shape[-1])
    assert op == "LastDimLayerNorm"
    with kernels.set_enabled(False):
        op, reference = _run(x, w, b, shape[-1])
    assert op == "LayerNorm"
    for ours, theirs in zip(fused, reference):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-5 * np.abs(theirs).max())


def test_other_layer_norms_take_the_numpy_code():
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    w, b = np.ones(5, np.float32), np.zeros(5, np.float32)
    assert _run(x, None, None, 5)[0] == "LayerNorm"  # no affine parameters
    assert _run(x, np.ones((4, 5), np.float32), np.zeros((4, 5), np.float32), (4, 5))[0] == "LayerNorm"  # 2 dims
    assert _run(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 5)[0] == "LayerNorm"
    assert _run(np.asfortranarray(x[0]), w, b, 5)[0] == "LayerNorm"  # not C-contiguous


def test_the_kernel_layer_norm_matches_torch():
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((4, 6, 16)) * 2).astype(np.float32)
    w, b = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    op, ours = _run(x, w, b, 16, eps=1e-3)
    assert op == "LastDimLayerNorm"
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.layer_norm(tx, (16,), tw, tb, 1e-3)
    (ty * torch.tensor(np.random.default_rng(1).standard_normal(ty.shape).astype(np.float32))).sum().backward()
    for a, t in zip(ours, [ty.detach(), tx.grad, tw.grad, tb.grad]):
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-4, atol=1e-5)
