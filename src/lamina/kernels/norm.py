"""Kernels of the layer normalisation in lamina/ops/norm.py over the last dim, with a weight and a bias: the
forward and the backward each in one pass over the rows (NumPy's LayerNorm makes about ten passes and as many
temporaries of the input's size).

The formulas are ops.norm.LayerNorm's, per row of C features: μ = Σx/C, σ² = Σ(x − μ)²/C, x̂ = (x − μ)/√(σ² + ε),
y = γ·x̂ + β; dx = (ĝ − Σĝ/C − x̂·Σ(ĝ·x̂)/C)/√(σ² + ε) with ĝ = g·γ; dγ = Σ g·x̂ and dβ = Σ g over the rows. The
sums of a row run in one loop (NumPy's pairwise sums round differently), so they match NumPy to float32
rounding, not bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from lamina.kernels import jit

_1 = np.float32(1)
_FAST = {"reassoc", "contract"}  # the row sums may be reordered (vectorised), a·b + c fused


@jit(fastmath=_FAST)
def layer_norm(x, weight, bias, eps, out, xhat, inv_std):
    """x, out, xhat (N, C); weight, bias (C,); inv_std (N,) gets 1/√(σ² + ε) of each row."""
    n = x.shape[1]
    scale = _1 / np.float32(n)
    for r in range(x.shape[0]):
        xr, outr, xhr = x[r], out[r], xhat[r]
        total = np.float32(0)
        for j in range(n):
            total += xr[j]
        mean = total * scale
        sq = np.float32(0)
        for j in range(n):
            c = xr[j] - mean
            xhr[j] = c
            sq += c * c
        inv = _1 / np.float32(math.sqrt(sq * scale + eps))
        inv_std[r] = inv
        for j in range(n):
            v = xhr[j] * inv
            xhr[j] = v
            outr[j] = v * weight[j] + bias[j]


@jit(fastmath=_FAST)
def layer_norm_backward(g, xhat, inv_std, weight, gx, gw, gb):
    """g, xhat, gx (N, C); inv_std (N,); weight (C,); gw, gb (C,) receive Σ g·x̂ and Σ g over the rows."""
    n = g.shape[1]
    scale = _1 / np.float32(n)
    for j in range(n):
        gw[j] = 0
        gb[j] = 0
    for r in range(g.shape[0]):
        gr, xhr, gxr = g[r], xhat[r], gx[r]
        s_g = np.float32(0)
        s_gx = np.float32(0)
        for j in range(n):
            gh = gr[j] * weight[j]
            s_g += gh
            s_gx += gh * xhr[j]
            gw[j] += gr[j] * xhr[j]
            gb[j] += gr[j]
        m_g, m_gx, inv = s_g * scale, s_gx * scale, inv_std[r]
        for j in range(n):
            gxr[j] = (gr[j] * weight[j] - m_g - xhr[j] * m_gx) * inv
