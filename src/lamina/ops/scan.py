"""Running sums and products along a dimension (cumsum, cumprod)."""

from __future__ import annotations

import numpy as np

from lamina.autograd.function import Function
from lamina.ops.index import Gather


def _reverse_cumsum(a, dim):
    return np.flip(np.cumsum(np.flip(a, dim), axis=dim), dim)


class CumSum(Function):
    """yᵢ = Σ_{j≤i} xⱼ: dL/dxᵢ = Σ_{j≥i} gⱼ (a cumulative sum from the end)"""

    def forward(self, x, dim):
        self.dim = dim
        return np.cumsum(x, axis=dim, dtype=np.int64 if x.dtype.kind in "biu" else None)

    def backward(self, g):
        return _reverse_cumsum(g, self.dim)


class CumProd(Function):
    """yᵢ = Π_{j≤i} xⱼ: dL/dxᵢ = Σ_{j≥i} gⱼ·yⱼ/xᵢ where xᵢ ≠ 0; along a slice holding a zero, the products
    without xᵢ are formed explicitly (Σ_{j≥i} gⱼ·Π_{k≤j, k≠i} xₖ), as PyTorch gets exact gradients there"""

    def forward(self, x, dim):
        self.dim = dim
        out = np.cumprod(x, axis=dim)
        self.save(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        dim = self.dim
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = _reverse_cumsum(g * out, dim) / x
        zero = (x == 0).any(axis=dim, keepdims=True)
        if not zero.any():
            return grad
        xm, gm = np.moveaxis(x, dim, -1), np.moveaxis(g, dim, -1)
        exact = np.empty_like(xm)
        n = xm.shape[-1]
        before = np.concatenate([np.ones_like(xm[..., :1]), np.cumprod(xm[..., :-1], axis=-1)], axis=-1)
        for i in range(n):  # a loop over positions along dim (not elements), only when a slice holds a zero
            after = np.cumprod(xm[..., i + 1:], axis=-1)  # Π_{i<k≤j} x_k for j > i
            exact[..., i] = before[..., i] * (gm[..., i] + (gm[..., i + 1:] * after).sum(axis=-1))
        return np.where(zero, np.moveaxis(exact, -1, dim), grad)


def _running(x, dim: int, largest: bool):
    """(values, indices) of the running max (or min) along dim: ties go to the latest position and a NaN, once
    met, stays (as PyTorch). The values gather x at the indices, so the gradient reaches each chosen element."""
    a = x.array
    running = (np.maximum if largest else np.minimum).accumulate(a, axis=dim)
    positions = np.arange(a.shape[dim]).reshape([-1 if d == dim else 1 for d in range(a.ndim)])
    hit = (a == running) | np.isnan(a)
    indices = np.maximum.accumulate(np.where(hit, positions, 0), axis=dim).astype(np.int64)
    return Gather.apply(x, dim, indices), indices
