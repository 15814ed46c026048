"""Gathering and scattering along a dimension: gather, scatter, scatter_add, index_select. Each index element names
one position of the input (its own coordinates, with the dim coordinate replaced by its value), as in PyTorch: no
broadcasting, and an index smaller than the input covers only its leading part. A gradient that several positions
send to one element is summed with one ``np.bincount`` over flat positions (no ``np.add.at``)."""

from __future__ import annotations

import numpy as np

from lamina.autograd.function import Function
from lamina.ops.embedding import scatter_add_rows


def _flat_positions(shape, index, dim):
    """For each element of ``index`` (an index along dim), its flat position in a C-ordered array of ``shape``."""
    grids = list(np.meshgrid(*[np.arange(n) for n in index.shape], indexing="ij", sparse=True))
    grids[dim] = index
    return np.ravel_multi_index(tuple(np.broadcast_arrays(*grids)), shape)


def _region(a, shape):
    """The leading ``shape``-sized part of ``a`` (src of scatter: only its index-shaped part is used)."""
    return a[tuple(slice(0, n) for n in shape)]


def scatter_add_array(shape, positions, values, dtype):
    """zeros(shape) with ``values`` added at flat ``positions`` (repeated positions summed)."""
    total = np.bincount(positions.ravel(), weights=values.ravel(), minlength=int(np.prod(shape)))
    return total.astype(dtype, copy=False).reshape(shape)


class Gather(Function):
    """y[i][j] = x[i][index[i][j]] (along dim); dL/dx = g scattered back, summed where an index repeats"""

    def forward(self, x, dim, index):
        self.shape = x.shape
        self.positions = _flat_positions(x.shape, index, dim)
        return np.ascontiguousarray(x).ravel()[self.positions]

    def backward(self, g):
        return scatter_add_array(self.shape, self.positions, g, g.dtype), None, None


class Scatter(Function):
    """y = x with y[i][index[i][j]] = src[i][j] (along dim); dL/dx = g with those positions 0, dL/dsrc = g at them"""

    def forward(self, x, dim, index, src):
        self.index_shape, self.src_shape = index.shape, np.shape(src)
        self.positions = _flat_positions(x.shape, index, dim)
        out = np.array(x, order="C")
        out.ravel()[self.positions.ravel()] = _region(np.asarray(src), index.shape).ravel()
        return out

    def backward(self, g):
        gx = gsrc = None
        flat = self.positions.ravel()
        if self.needs[0]:
            gx = np.array(g, order="C")
            gx.ravel()[flat] = 0
        if self.needs[3]:
            gsrc = np.zeros(self.src_shape, dtype=g.dtype)
            _region(gsrc, self.index_shape)[...] = np.ascontiguousarray(g).ravel()[self.positions]
        return gx, None, None, gsrc


class ScatterAdd(Function):
    """y = x with src[i][j] added at y[i][index[i][j]] (along dim); dL/dx = g, dL/dsrc = g at those positions"""

    def forward(self, x, dim, index, src):
        self.index_shape, self.src_shape = index.shape, np.shape(src)
        self.positions = _flat_positions(x.shape, index, dim)
        return x + scatter_add_array(x.shape, self.positions, _region(np.asarray(src), index.shape), x.dtype)

    def backward(self, g):
        gsrc = None
        if self.needs[3]:
            gsrc = np.zeros(self.src_shape, dtype=g.dtype)
            _region(gsrc, self.index_shape)[...] = np.ascontiguousarray(g).ravel()[self.positions]
        return g, None, None, gsrc


class IndexSelect(Function):
    """y = x's entries at ``index`` along dim; dL/dx = g summed back into each selected entry"""

    def forward(self, x, dim, index):
        self.shape, self.dim, self.index = x.shape, dim, index
        return np.take(x, index, axis=dim)

    def backward(self, g):
        shape = [1] * g.ndim
        shape[self.dim] = -1
        full = np.broadcast_to(self.index.reshape(shape), g.shape)
        return scatter_add_array(self.shape, _flat_positions(self.shape, full, self.dim), g, g.dtype), None, None


class TakeRows(Function):
    """y = x[idx] for an integer array idx (rows of x, as a lookup table): dL/dx[v] = Σ of the gradient rows whose
    index is v, summed by ``scatter_add_rows`` (np.add.at, the general scatter, is several times slower)"""

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        n = self.shape[0]
        flat = self.index.reshape(-1) % n if n else self.index.reshape(-1)  # negative indices count from the end
        rows = g.reshape(flat.size, -1)
        return scatter_add_rows(flat, rows, n).reshape(self.shape), None
