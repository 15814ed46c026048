"""The vector p-norm along one dimension, with PyTorch's gradient where the norm is 0: the building block of
normalize, cosine_similarity and pairwise_distance (and the losses made from them)."""

from __future__ import annotations

import math

import numpy as np

from lamina.autograd.function import Function
from lamina.ops.unary import _float


class VectorNorm(Function):
    """‖z‖ₚ = (Σ|z|ᵖ)^(1/p) along dim; d/dz = sign(z)·|z|^(p−1)/‖z‖^(p−1): z/‖z‖ for p = 2, sign(z) for p = 1,
    sign(z)/(number of ties) at the largest |z| for p = ∞, 0 for p = 0, and 0 wherever ‖z‖ = 0 (as PyTorch).
    With floor, the value is max(‖z‖, floor) but the gradient stays that of ‖z‖ (cosine_similarity's clamp, which
    PyTorch applies outside the graph)."""

    def forward(self, z, p, dim, keepdim, floor=None):
        z = _float(z)
        a = np.abs(z)
        if p == 2:
            n = np.sqrt(np.add.reduce(z * z, axis=dim, keepdims=True))
        elif p == 1:
            n = np.add.reduce(a, axis=dim, keepdims=True)
        elif p == math.inf:
            n = np.maximum.reduce(a, axis=dim, keepdims=True)
        elif p == 0:
            n = np.add.reduce(z != 0, axis=dim, keepdims=True).astype(z.dtype)
        else:
            n = np.add.reduce(a**p, axis=dim, keepdims=True) ** (1 / p)
        self.save(z, n)
        self.p, self.dim, self.keepdim = p, dim, keepdim
        out = n if floor is None else np.maximum(n, np.asarray(floor, n.dtype))
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, g):
        z, n = self.saved
        p, dim = self.p, self.dim
        if not self.keepdim:
            g = np.expand_dims(g, dim)
        if p == 0:
            return np.zeros_like(z)
        if p == 1:
            return g * np.sign(z)
        if p == math.inf:
            a = np.abs(z)
            at_max = (a == n) | np.isnan(a)
            return np.sign(z) * (g / np.add.reduce(at_max, axis=dim, keepdims=True)) * at_max
        a = np.abs(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p < 1:
                scaled = np.where(z == 0, 0, np.sign(z) * a ** (p - 1))
                return scaled * g * n ** (1 - p)
            scale = np.where(n == 0, 0, g / (n if p == 2 else n ** (p - 1)))
            scaled = z if p == 2 else np.sign(z) * a ** (p - 1) if p < 2 else z * a ** (p - 2)
            return (scaled * scale).astype(g.dtype, copy=False)
