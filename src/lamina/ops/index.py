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
        return np.take(x, index, axis=0)  # x[index], about twice as quick

    def backward(self, g):
        n = self.shape[0]
        flat = self.index.reshape(-1) % n if n else self.index.reshape(-1)  # negative indices count from the end
        rows = g.reshape(flat.size, -1)
        return scatter_add_rows(flat, rows, n).reshape(self.shape), None


_REDUCERS = {"sum": np.add, "prod": np.multiply, "mean": np.add, "amax": np.maximum, "amin": np.minimum}
_ALIASES = {"max": "amax", "min": "amin"}  # PyTorch accepts these two undocumented spellings too


def check_scatter(x, dim, index, src, reduce=None) -> str | None:
    """PyTorch's checks of a scatter's arguments, each a one-line RuntimeError; returns the reduction's name."""
    if reduce is not None:
        reduce = _ALIASES.get(reduce, reduce)
        if reduce not in _REDUCERS:
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if not np.issubdtype(index.dtype, np.integer):
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if src.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if index.ndim != x.ndim or (index.size and np.ndim(src) != index.ndim):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if index.size and any(i > s or (d != dim and i > n)
                          for d, (i, s, n) in enumerate(zip(index.shape, np.shape(src), x.shape))):
        raise RuntimeError(f"Expected index {list(index.shape)} to be no larger than self {list(x.shape)} apart from "
                           f"dimension {dim} and to be no larger size than src {list(np.shape(src))}")
    bad = index[(index < 0) | (index >= x.shape[dim])] if index.size else index
    if bad.size:
        raise RuntimeError(f"index {bad.flat[0]} is out of bounds for dimension {dim} with size {x.shape[dim]}")
    return reduce


def scatter_reduce_array(x, positions, values, reduce, include_self):
    """x with each group of ``values`` that shares a flat position reduced into it (``reduce`` as PyTorch names it;
    include_self=False leaves x's own value out of the groups). One stable sort by position and one
    ``ufunc.reduceat`` over the groups, so the members of a group combine in index order."""
    flat_pos, vals = positions.ravel(), values.ravel()
    order = np.argsort(flat_pos, kind="stable")
    sorted_pos = flat_pos[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_pos[1:] != sorted_pos[:-1]))) if vals.size else order
    targets, counts = sorted_pos[starts], np.diff(np.append(starts, vals.size))
    reduced = _REDUCERS[reduce].reduceat(vals[order], starts) if vals.size else vals[:0]
    out = np.array(x, order="C")
    flat = out.reshape(-1)
    if include_self:
        reduced = _REDUCERS[reduce](flat[targets], reduced)
        counts = counts + 1
    if reduce == "mean":
        if np.issubdtype(out.dtype, np.floating):
            reduced = reduced / counts.astype(out.dtype)
        else:
            reduced = reduced // counts
    flat[targets] = reduced
    return out


class ScatterReduce(Function):
    """y = x with each group of src values sent to one position (along dim) reduced into it: sum, prod, mean, amax
    or amin, over the group and x's own value (include_self) or the group alone. The gradients are PyTorch's:
    sum passes g through; mean divides g by the group's size; prod multiplies g by the product of the other
    members (a lone zero gets the product of the rest, two zeros give zeros); amax/amin send g to the members
    equal to the result, split evenly among ties (x's own value counts in the split even when include_self=False,
    as in PyTorch). With include_self=False, dL/dx is 0 at every position that received a value."""

    def forward(self, x, dim, index, src, reduce="sum", include_self=True):
        self.reduce, self.include_self = reduce, include_self
        self.shape, self.index_shape, self.src_shape = x.shape, index.shape, src.shape
        self.positions = _flat_positions(x.shape, index, dim)
        values = _region(src, index.shape)
        out = scatter_reduce_array(x, self.positions, values, reduce, include_self)
        if reduce in ("prod", "amax", "amin"):
            self.save(x, values, out)
        return out

    def backward(self, g):
        g = np.ascontiguousarray(g)
        pos, reduce = self.positions, self.reduce
        at = g.reshape(-1)[pos]  # g at each src value's position
        if reduce == "sum":
            gx, gvalues = g, at
        elif reduce == "mean":
            n = scatter_add_array(self.shape, pos, np.ones(pos.shape, g.dtype), g.dtype) + float(self.include_self)
            n[n == 0] = 1
            gx, gvalues = g / n, at / n.reshape(-1)[pos]
        elif reduce == "prod":
            gx, gvalues = self._prod_grads(g)
        else:
            x, values, out = self.saved
            x_is = (x == out).astype(g.dtype)
            values_are = values == out.reshape(-1)[pos]
            share = g / (x_is + scatter_add_array(self.shape, pos, values_are.astype(g.dtype), g.dtype))
            gx, gvalues = x_is * share, values_are * share.reshape(-1)[pos]
        if not self.include_self:
            gx = np.array(gx, order="C")
            gx.reshape(-1)[pos.ravel()] = 0
        gsrc = None
        if self.needs[3]:
            gsrc = np.zeros(self.src_shape, dtype=g.dtype)
            _region(gsrc, self.index_shape)[...] = gvalues
        return (gx if self.needs[0] else None), None, None, gsrc

    def _prod_grads(self, g):
        """PyTorch's product rule without dividing by zero: x's gradient divides the product with x's zeros set
        to 1; a src value that is its group's only zero gets the group's product with it set to 1."""
        x, values, out = self.saved
        pos, flat = self.positions, g.reshape(-1)
        x_ones = np.where(x == 0, 1, x).astype(x.dtype)
        gx = g * scatter_reduce_array(x_ones, pos, values, "prod", self.include_self) / x_ones
        zero = values == 0
        zeros_in_group = scatter_add_array(self.shape, pos, zero.astype(g.dtype), g.dtype).reshape(-1)[pos]
        lone_zero = zero & (zeros_in_group == 1)
        without = scatter_reduce_array(x, pos, np.where(lone_zero, 1, values).astype(values.dtype), "prod",
                                       self.include_self)
        with np.errstate(divide="ignore", invalid="ignore"):
            rest = (flat * out.reshape(-1))[pos] / np.where(zero, 1, values)
        gvalues = np.where(lone_zero, (flat * without.reshape(-1))[pos], rest)
        return gx, gvalues
