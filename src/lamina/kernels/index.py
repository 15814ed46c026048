"""Kernels of the scatters in lamina/ops/embedding.py and lamina/ops/index.py: sums sent to rows by index."""

from __future__ import annotations

from lamina.kernels import jit


@jit
def scatter_add_rows(index, rows, out):
    """out[index[k]] += rows[k] for k in order, as embedding.scatter_add_rows (whose stable sort keeps equal
    indices in that order, so each row's sum is taken in the same order). ``index`` is 1-D, in [0, len(out))."""
    d = rows.shape[1]
    for k in range(index.size):
        r = index[k]
        for j in range(d):
            out[r, j] += rows[k, j]
