"""Kernels of the attention's softmax over the last dim (ops/reduce.py's LastDimSoftmax): forward and backward each
one pass over the rows, where NumPy makes five and four passes with a temporary each.

The formulas are ops.reduce.Softmax's, per row: s = e^(z − max z)/Σ e^(z − max z); backward g·s − s·Σ g·s. The
exponential is vecmath.exp32 (a few ulps from NumPy's) and the sums are vectorised (``reassoc``), so they match
NumPy to float32 rounding. A row that is −inf everywhere gives zeros (PyTorch's _safe_softmax, which the attention
uses), not NaN.
"""

from __future__ import annotations

import numpy as np

from lamina.kernels import jit
from lamina.kernels.vecmath import exp32

_0 = np.float32(0)
_FAST = {"reassoc", "contract"}  # the row sums may be reordered (vectorised), a·b + c fused


@jit(fastmath=_FAST)
def safe_softmax(z, out):
    """z, out (N, C): the softmax of each row; zeros for a row of −inf only."""
    for r in range(z.shape[0]):
        zr, outr = z[r], out[r]
        m = zr[0]
        for j in range(1, zr.size):
            m = max(m, zr[j])
        if m == -np.inf:
            for j in range(zr.size):
                outr[j] = _0
            continue
        total = _0
        for j in range(zr.size):
            e = exp32(zr[j] - m)
            outr[j] = e
            total += e
        for j in range(zr.size):
            outr[j] = outr[j] / total


@jit(fastmath=_FAST)
def softmax_backward(g, s, out):
    """g, s, out (N, C): g·s − s·Σ g·s along each row."""
    for r in range(g.shape[0]):
        gr, sr, outr = g[r], s[r], out[r]
        total = _0
        for j in range(gr.size):
            total += gr[j] * sr[j]
        for j in range(gr.size):
            outr[j] = gr[j] * sr[j] - sr[j] * total
