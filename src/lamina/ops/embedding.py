"""Lookups in a table of vectors: Embedding (one row per index) and EmbeddingBag (a sum or mean of rows per bag).

Their backward scatters rows of the gradient back into the table, adding where an index repeats. That
scatter-add is ``scatter_add_rows``: a weighted ``np.bincount`` per column for narrow rows, and for wide rows a
sort of the indices followed by ``np.add.reduceat`` over each run of equal indices. Both cost O(n log n + V·D)
whatever the vocabulary's size V (``np.add.at`` is the slow general-purpose alternative). On float32 rows the
kernel ``kernels.scatter_add_rows`` adds each row into place in one pass instead.
"""

from __future__ import annotations

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function

NARROW = 8  # rows up to this width are summed one column at a time by np.bincount


def scatter_add_rows(index, rows, n):
    """out[index[k]] += rows[k] for every k, into a new (n, D) array; index is 1-D, rows (len(index), D).
    The kernel does it in one pass in index order (20-50x quicker than the sort below on a 10,000-row table)."""
    d = rows.shape[1]
    if kernels.fits(rows) and index.dtype == np.int64 and index.flags.c_contiguous:
        out = np.zeros((n, d), dtype=rows.dtype)
        kernels.scatter_add_rows(index, rows, out)
        return out
    if d <= NARROW:
        out = np.empty((n, d), dtype=rows.dtype)
        for j in range(d):
            out[:, j] = np.bincount(index, weights=rows[:, j], minlength=n)
        return out
    out = np.zeros((n, d), dtype=rows.dtype)
    if index.size == 0:
        return out
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    out[ordered[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


class Embedding(Function):
    """y[...] = W[idx[...]]; dL/dW[v] = Σ of the gradient rows whose index is v (none for padding_idx)"""

    def forward(self, weight, indices, padding_idx, scale_grad_by_freq):
        self.num, self.padding_idx, self.by_freq = weight.shape[0], padding_idx, scale_grad_by_freq
        self.save(indices)
        return weight[indices]

    def backward(self, g):
        (indices,) = self.saved
        flat = indices.reshape(-1)
        grad = scatter_add_rows(flat, g.reshape(-1, g.shape[-1]), self.num)
        if self.by_freq:  # each row's gradient divided by how often its index occurs in the batch
            grad /= np.maximum(np.bincount(flat, minlength=self.num), 1).astype(grad.dtype)[:, None]
        if self.padding_idx is not None:
            grad[self.padding_idx] = 0
        return grad, None, None, None


class EmbeddingBag(Function):
    """y[b] = Σ_{k in bag b} s_k·W[idx_k]; dL/dW[idx_k] += s_k·g[b], dL/ds_k = g[b]·W[idx_k]

    s is 1 (sum), 1/|bag| (mean) or the caller's per_sample_weights (the only differentiable s)."""

    def forward(self, weight, indices, bags, scale, num_bags):
        self.num = weight.shape[0]
        self.save(weight, indices, bags, scale)
        rows = weight[indices]
        if scale is not None:
            rows = rows * scale[:, None]
        return scatter_add_rows(bags, rows, num_bags)

    def backward(self, g):
        weight, indices, bags, scale = self.saved
        gathered = g[bags]
        gscale = np.einsum("kd,kd->k", gathered, weight[indices]) if self.needs[3] else None
        if scale is not None:
            gathered = gathered * scale[:, None]
        gweight = scatter_add_rows(indices, gathered, self.num) if self.needs[0] else None
        return gweight, None, None, gscale, None
