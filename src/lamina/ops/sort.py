"""Ordering along a dimension: sort, argsort, topk. The values are differentiable (their gradient goes back to the
positions they came from, as for max along a dim); the indices are int64 and outside the graph.

NaN counts as larger than every number, as in PyTorch: last in an ascending sort, first in a descending one.
The sorts are stable (equal values keep their order, also when descending), which PyTorch allows for every
``stable=`` and guarantees for ``stable=True``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lamina.ops.index import Gather
from lamina.ops.reduce import TakeAlong, _axes
from lamina.tensor import Tensor, from_numpy

SortResult = namedtuple("sort", ["values", "indices"])
TopKResult = namedtuple("topk", ["values", "indices"])


def _dim(x: Tensor, dim: int) -> int:
    return _axes(dim, x.ndim)[0] if x.ndim else 0


def _check_orderable(x: Tensor, name: str) -> None:
    if x.dtype == np.bool_ and name == "topk":
        raise RuntimeError("topk does not support bool dtypes (convert with .int() first)")


def argsort_array(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable sort order along axis. Descending keeps equal values in their original order: it is the reverse of
    a stable ascending sort of the reversed array (reversing twice puts the ties back in order)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    order = np.argsort(np.flip(a, axis=axis), axis=axis, kind="stable")
    return n - 1 - np.flip(order, axis=axis)


def sort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> SortResult:
    """(values, indices) with values = x sorted along dim and x.gather(dim, indices) == values."""
    _check_orderable(x, "sort")
    if x.ndim == 0:
        return SortResult(x.clone(), from_numpy(np.zeros((), np.int64)))
    d = _dim(x, dim)
    idx = argsort_array(x.array, d, descending)
    return SortResult(TakeAlong.apply(x, idx, d, True), from_numpy(idx.astype(np.int64, copy=False)))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices that sort x along dim (int64)."""
    if x.ndim == 0:
        return from_numpy(np.zeros((), np.int64))
    return from_numpy(argsort_array(x.array, _dim(x, dim), descending).astype(np.int64, copy=False))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopKResult:
    """The k largest (or smallest) values along dim and their indices, largest first (smallest first) when
    ``sorted``. For k much smaller than the dimension, np.argpartition finds the k in linear time and only they
    are sorted."""
    _check_orderable(x, "topk")
    if x.ndim == 0:
        if k not in (0, 1):
            raise RuntimeError(f"topk: selected index k out of range (k={k} for a 0-d tensor)")
        return TopKResult(x.clone() if k else x.reshape(1)[:0], from_numpy(np.zeros(() if k else (0,), np.int64)))
    d = _dim(x, dim)
    n = x.shape[d]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an integer, got {type(k).__name__}")
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k out of range (k={k} for dimension {d} of size {n}, input of "
                           f"shape {tuple(x.shape)})")
    a = x.array
    if 0 < k < n // 4:  # partition first: the k wanted values, in no order, then sort only them
        part = np.argpartition(a, n - k if largest else k - 1, axis=d)
        idx = np.take(part, np.arange(n - k, n) if largest else np.arange(k), axis=d)
        order = argsort_array(np.take_along_axis(a, idx, axis=d), d, descending=largest) if sorted else None
        idx = idx if order is None else np.take_along_axis(idx, order, axis=d)
    else:
        idx = np.take(argsort_array(a, d, descending=largest), np.arange(k), axis=d)
    return TopKResult(TakeAlong.apply(x, idx, d, True), from_numpy(idx.astype(np.int64, copy=False)))


def _select(x: Tensor, dim: int, idx: np.ndarray, keepdim: bool):
    """(values, indices) for one position per slice along dim (idx has size 1 there); values differentiable."""
    values = Gather.apply(x, dim, idx)
    if not keepdim:
        values, idx = values.squeeze(dim), np.squeeze(idx, axis=dim)
    return values, from_numpy(idx)


def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest value along dim (k from 1) and its index."""
    d = _dim(x, dim)
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} of size {n} (k={k})")
    if x.ndim == 0:
        return SortResult(x.clone(), from_numpy(np.zeros((), np.int64)))
    order = argsort_array(x.array, d, False)
    idx = np.take(order, [k - 1], axis=d).astype(np.int64)
    return SortResult(*_select(x, d, idx, keepdim))


def median(x: Tensor, dim=None, keepdim: bool = False):
    """The lower median ((n − 1)//2-th smallest); NaN if the slice holds one (as PyTorch). Without dim, the value
    over all elements; with dim, (values, indices)."""
    if dim is None:
        flat = x.reshape(-1)
        return median(flat, 0).values if flat.shape[0] else flat.sum() * np.nan
    d = _dim(x, dim)
    if x.ndim == 0:
        return SortResult(x.clone(), from_numpy(np.zeros((), np.int64)))
    a = x.array
    order = argsort_array(a, d, False)  # NaN sorts last
    idx = np.take(order, [(a.shape[d] - 1) // 2], axis=d)
    nan = np.isnan(a).any(axis=d, keepdims=True) if a.dtype.kind == "f" else None
    if nan is not None and nan.any():
        first_nan = np.expand_dims(np.argmax(np.isnan(a), axis=d), d)
        idx = np.where(nan, first_nan, idx)
    return SortResult(*_select(x, d, idx.astype(np.int64), keepdim))


def mode(x: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along dim (the smallest of equally frequent ones) and the index of its last
    occurrence, as PyTorch."""
    d = _dim(x, dim)
    if x.ndim == 0:
        return SortResult(x.clone(), from_numpy(np.zeros((), np.int64)))
    a = np.moveaxis(x.array, d, -1)
    rows = a.reshape(-1, a.shape[-1])
    s = np.sort(rows, axis=1)
    new = np.concatenate([np.ones((len(s), 1), bool), s[:, 1:] != s[:, :-1]], axis=1)
    run = np.cumsum(new, axis=1) - 1  # run number of each sorted element within its row
    n = rows.shape[1]
    counts = np.bincount((np.arange(len(s))[:, None] * n + run).ravel(), minlength=len(s) * n).reshape(len(s), n)
    best = np.argmax(counts, axis=1)  # the first (smallest value's) run among the most frequent
    value = s[np.arange(len(s)), np.argmax(run == best[:, None], axis=1)]
    last = np.where(rows == value[:, None], np.arange(n), -1).max(axis=1)
    idx = np.expand_dims(last.reshape(a.shape[:-1]), d).astype(np.int64)
    return SortResult(*_select(x, d, idx, keepdim))


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values (sorted), and optionally each element's position among them and their counts."""
    values, inverse, counts = np.unique(x.array, return_inverse=True, return_counts=True, axis=dim)
    out = [from_numpy(values)]
    if return_inverse:
        out.append(from_numpy(inverse.reshape(x.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(from_numpy(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)
