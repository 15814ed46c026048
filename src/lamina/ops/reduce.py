"""Reductions over dimensions, and softmax / log-softmax along a dimension (numerically stable)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function
from lamina.ops.arithmetic import Maximum, Minimum
from lamina.tensor import Tensor, from_numpy


def _axes(dim, ndim):
    """Normalise dim (None, int or sequence) to a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if ndim == 0 and dim in (0, -1, (0,), (-1,), [0], [-1]):
        return ()  # a 0-d tensor reduces over dim 0 or -1 as over nothing, as in PyTorch
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out)))


def _expand_back(g, shape, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input's shape."""
    if not keepdim and shape:
        g = np.expand_dims(g, [a for a in axes if a < len(shape)])
    return g


def _filled(g, shape):
    """g broadcast to shape, as a new array (cheaper than np.broadcast_to plus a later copy)."""
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


class Sum(Function):
    """d/dxᵢ Σ x = 1"""

    def forward(self, x, dim, keepdim):
        self.shape, self.axes, self.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        dtype = np.int64 if x.dtype.kind in "biu" else None
        return np.add.reduce(x, axis=self.axes, keepdims=keepdim, dtype=dtype)

    def backward(self, g):
        return _filled(_expand_back(g, self.shape, self.axes, self.keepdim), self.shape)


class Mean(Function):
    """d/dxᵢ mean(x) = 1/n"""

    def forward(self, x, dim, keepdim):
        self.shape, self.axes, self.keepdim = x.shape, _axes(dim, x.ndim), keepdim
        if x.dtype.kind != "f":
            x = x.astype(np.float32)
        n = 1
        for a in self.axes:
            n *= x.shape[a]
        self.n = n
        return np.add.reduce(x, axis=self.axes, keepdims=keepdim) * (1.0 / n if n else np.nan)

    def backward(self, g):
        return _filled(_expand_back(g, self.shape, self.axes, self.keepdim) * (1.0 / self.n), self.shape)


class Var(Function):
    """d/dxᵢ var(x) = 2(xᵢ − x̄)/(n − correction)"""

    def forward(self, x, dim, keepdim, correction):
        self.axes, self.keepdim, self.shape = _axes(dim, x.ndim), keepdim, x.shape
        n = int(np.prod([x.shape[a] for a in self.axes])) if x.ndim else 1
        self.denom = max(n - correction, 0)
        centered = x - x.mean(axis=self.axes, keepdims=True)
        self.save(centered)
        with np.errstate(divide="ignore", invalid="ignore"):
            ss = np.sum(centered * centered, axis=self.axes, keepdims=keepdim)
            return np.asarray(ss / np.asarray(self.denom, x.dtype))

    def backward(self, g):
        (centered,) = self.saved
        g = _expand_back(g, self.shape, self.axes, self.keepdim)
        return g * centered * np.asarray(2 / self.denom if self.denom else np.nan, g.dtype)


def var(x: Tensor, dim=None, keepdim=False, correction=1) -> Tensor:
    return Var.apply(x, dim, keepdim, correction)


class Amax(Function):
    """d/dxᵢ max(x) = 1/k at the k positions that attain the maximum, else 0"""

    def forward(self, x, dim, keepdim, largest):
        self.axes, self.keepdim, self.shape = _axes(dim, x.ndim), keepdim, x.shape
        if x.size == 0:
            raise ValueError("max(): cannot reduce an empty tensor")
        out = (np.amax if largest else np.amin)(x, axis=self.axes, keepdims=True)
        self.save(x == out)
        return np.asarray(out if keepdim else np.squeeze(out, axis=self.axes))

    def backward(self, g):
        (hit,) = self.saved
        g = _expand_back(g, self.shape, self.axes, self.keepdim)
        return g * hit / hit.sum(axis=self.axes, keepdims=True).astype(g.dtype)


class TakeAlong(Function):
    """values = x[indices] along dim; the gradient goes back to the chosen positions only"""

    def forward(self, x, idx, dim, keepdim):
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim
        self.save(idx)
        out = np.take_along_axis(x, idx, axis=dim)
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, g):
        (idx,) = self.saved
        if not self.keepdim:
            g = np.expand_dims(g, self.dim)
        grad = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(grad, idx, g, axis=self.dim)
        return grad


MinMax = namedtuple("MinMax", ["values", "indices"])


def extreme(x: Tensor, dim=None, keepdim=False, largest=True):
    """max()/min(): a full reduction, or (values, indices) along dim as in PyTorch."""
    if isinstance(dim, Tensor):  # torch.max(a, b) is the element-wise maximum
        return (Maximum if largest else Minimum).apply(x, dim)
    if dim is None:
        return Amax.apply(x, None, False, largest)
    d = _axes(dim, x.ndim)[0]
    idx = (np.argmax if largest else np.argmin)(x.array, axis=d, keepdims=True)
    values = TakeAlong.apply(x, idx, d, keepdim)
    indices = idx if keepdim else np.squeeze(idx, axis=d)
    return MinMax(values, from_numpy(indices.astype(np.int64)))


def arg_extreme(x: Tensor, dim, keepdim, fn) -> Tensor:
    if dim is None:
        out = np.asarray(fn(x.array))
        if keepdim:
            out = out.reshape((1,) * x.ndim)
    else:
        out = fn(x.array, axis=dim, keepdims=keepdim)
    return from_numpy(np.asarray(out, dtype=np.int64))


class LogSumExp(Function):
    """d/dxᵢ log Σ eˣ = softmax(x)ᵢ; computed as m + log Σ e^(x − m) with m = max x"""

    def forward(self, x, dim, keepdim):
        self.axes, self.keepdim, self.shape = _axes(dim, x.ndim), keepdim, x.shape
        m = np.amax(x, axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        out = np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True)) + m
        self.save(x, out)
        return np.asarray(out if keepdim else np.squeeze(out, axis=self.axes))

    def backward(self, g):
        x, out = self.saved
        g = _expand_back(g, self.shape, self.axes, self.keepdim)
        return g * np.exp(x - out)


class Prod(Function):
    """d/dxᵢ Π x = Π_{j≠i} xⱼ (products of the elements before and after i: exact with zeros)"""

    def forward(self, x, dim, keepdim):
        self.keepdim = keepdim
        self.dim = None if dim is None else _axes(dim, x.ndim)[0]
        self.shape = x.shape
        self.save(x)
        return np.asarray(np.prod(x, axis=self.dim, keepdims=keepdim))

    def backward(self, g):
        (x,) = self.saved
        flat = x.reshape(-1) if self.dim is None else x
        axis = 0 if self.dim is None else self.dim
        ones = np.ones_like(np.take(flat, [0], axis=axis))
        before = np.cumprod(np.concatenate([ones, np.delete(flat, -1, axis=axis)], axis=axis), axis=axis)
        rev = np.flip(flat, axis=axis)
        after = np.flip(np.cumprod(np.concatenate([ones, np.delete(rev, -1, axis=axis)], axis=axis), axis=axis),
                        axis=axis)
        others = (before * after).reshape(self.shape)
        if self.dim is not None and not self.keepdim:
            g = np.expand_dims(g, self.dim)
        return g * others


def norm(x: Tensor, p=2, dim=None, keepdim=False) -> Tensor:
    """The p-norm (p = 1, 2, inf) built from differentiable pieces."""
    if p in ("fro", 2):
        return (x * x).sum(dim, keepdim).sqrt()
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == float("inf"):
        return x.abs().amax(dim, keepdim)
    return (x.abs() ** p).sum(dim, keepdim) ** (1.0 / p)


class Softmax(Function):
    """softmax(z)ᵢ = e^(zᵢ−m)/Σ e^(z−m); backward: s·(g − Σ g·s)"""

    def forward(self, z, dim):
        self.dim = dim
        e = np.exp(z - np.amax(z, axis=dim, keepdims=True))
        s = e / np.sum(e, axis=dim, keepdims=True)
        self.save(s)
        return s

    def backward(self, g):
        (s,) = self.saved
        gs = g * s
        return gs - s * np.sum(gs, axis=self.dim, keepdims=True)


class LastDimSafeSoftmax(Softmax):
    """Softmax over the last dim of a C-contiguous float32 z, zeros for a row that is −inf everywhere (PyTorch's
    _safe_softmax, the attention's): forward and backward one kernel pass each (kernels/softmax.py)"""

    def forward(self, z, dim):
        self.dim = z.ndim - 1
        s = np.empty_like(z)
        kernels.safe_softmax(z.reshape(-1, z.shape[-1]), s.reshape(-1, z.shape[-1]))
        self.save(s)
        return s

    def backward(self, g):
        if not kernels.fits(g):  # a gradient that is not C-contiguous float32, or the kernels switched off since
            return super().backward(g)
        (s,) = self.saved
        out = np.empty_like(g)
        kernels.softmax_backward(g.reshape(-1, g.shape[-1]), s.reshape(-1, g.shape[-1]), out.reshape(-1, g.shape[-1]))
        return out

    @property
    def name(self) -> str:
        return "SoftmaxBackward0"  # the same op in the graph; only its implementation differs


def log_softmax_array(z, dim):
    """log softmax(z) = z − m − log Σ e^(z−m) along dim, with m the maximum (no overflow); also the losses'."""
    shifted = z - np.maximum.reduce(z, axis=dim, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=dim, keepdims=True))


class LogSoftmax(Function):
    """log_softmax(z) = z − m − log Σ e^(z−m); backward: g − softmax(z)·Σ g"""

    def forward(self, z, dim):
        self.dim = dim
        out = log_softmax_array(z, dim)
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g - np.exp(out) * np.sum(g, axis=self.dim, keepdims=True)
