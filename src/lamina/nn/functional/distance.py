"""Checked entry points of the distances (re-exported by lamina.nn.functional): normalize, cosine_similarity,
pairwise_distance, with PyTorch's eps semantics. Each is built from ops.distance.VectorNorm and ordinary ops, in
the order PyTorch's own code computes it, so values and gradients (at zero vectors too) agree."""

from __future__ import annotations

import numpy as np

from lamina.nn.module import LayerInputError
from lamina.ops import distance as _distance
from lamina.ops import unary as _unary
from lamina.tensor import Tensor

__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]


def _dim(name: str, dim: int, ndim: int) -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


def _broadcast(name: str, x1: Tensor, x2: Tensor):
    """Both inputs expanded to their common shape (PyTorch's expand_outplace)."""
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise LayerInputError(name, f"the shapes {tuple(x1.shape)} and {tuple(x2.shape)} of x1 and x2 do not "
                                    f"broadcast") from None
    return tuple(x if x.shape == shape else x.expand(*shape) for x in (x1, x2))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """x / max(‖x‖ₚ, eps) along dim."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; use the returned tensor")
    d = _dim("normalize", dim, input.ndim)
    denom = _unary.Clamp.apply(_distance.VectorNorm.apply(input, p, d, True), eps, None)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x1/max(‖x1‖, eps))·(x2/max(‖x2‖, eps)) along dim, each norm clamped on its own (PyTorch's formula)."""
    x1, x2 = _broadcast("cosine_similarity", x1, x2)
    d = _dim("cosine_similarity", dim, x1.ndim)
    n1 = _distance.VectorNorm.apply(x1, 2, d, True, floor=eps)
    n2 = _distance.VectorNorm.apply(x2, 2, d, True, floor=eps)
    return ((x1 / n1) * (x2 / n2)).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x1 − x2 + eps‖ₚ along the last dimension (PyTorch adds eps to the difference)."""
    ndim = max(x1.ndim, x2.ndim)
    if ndim == 0:
        raise LayerInputError("pairwise_distance", "expected inputs with at least one dimension, got 0-d tensors")
    _broadcast("pairwise_distance", x1, x2)
    return _distance.VectorNorm.apply(x1 - x2 + eps, p, ndim - 1, keepdim)
