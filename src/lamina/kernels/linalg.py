"""A tiny fully connected layer, x·Wᵀ + b and its three gradients, each in one call, for lamina/ops/linalg.py.

A BLAS call costs about a microsecond however small the product, plus a broadcast pass for the bias; for layers
of a few dozen weights (the XOR network's) plain loops are several times quicker. Used up to kernels.TINY
multiply-adds (kernels.fits_tiny).
"""

from __future__ import annotations

import numpy as np

from lamina.kernels import jit

_0 = np.float32(0)


@jit
def linear(x, w, b, out):
    """out ← x·Wᵀ (+ b when b is not None), as linalg.Linear.forward"""
    n, k = x.shape
    for i in range(n):
        for j in range(w.shape[0]):
            s = _0
            for l in range(k):
                s += x[i, l] * w[j, l]
            out[i, j] = s + b[j] if b is not None else s


@jit
def linear_backward(g, x, w, gx, gw, gb):
    """gx ← G·W, gw ← Gᵀ·x, gb ← Σᵢ Gᵢ for those that are not None, as linalg.Linear.backward"""
    n, k = x.shape
    m = w.shape[0]
    if gx is not None:
        for i in range(n):
            for l in range(k):
                s = _0
                for j in range(m):
                    s += g[i, j] * w[j, l]
                gx[i, l] = s
    if gw is not None:
        for j in range(m):
            for l in range(k):
                s = _0
                for i in range(n):
                    s += g[i, j] * x[i, l]
                gw[j, l] = s
    if gb is not None:
        for j in range(m):
            s = _0
            for i in range(n):
                s += g[i, j]
            gb[j] = s
