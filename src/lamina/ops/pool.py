"""Pooling and resampling over the trailing (spatial) dims, from the same sliding windows as the convolutions.

Max and average pooling read ``conv.windows`` of the padded input; their backward passes add the gradient back
with one strided slice addition per kernel offset (``conv.col2im``'s pattern). Adaptive average pooling and
interpolation are linear maps along each spatial axis, y = A₁·x·A₂ᵀ: ``AxisMaps`` applies them, and the functions
``adaptive_avg_matrix`` and ``interpolation_matrix`` build the matrices with PyTorch's formulas. Adaptive max
pooling gathers irregular windows by index.
"""

from __future__ import annotations

import math

import numpy as np

from lamina import kernels, threads
from lamina.autograd.function import Function
from lamina.ops import scratch
from lamina.ops.conv import as_planes, plane_geometry, unpad, windows


def _pad(x, padding, value):
    if not any(lo or hi for lo, hi in padding):
        return x
    return np.pad(x, ((0, 0),) * (x.ndim - len(padding)) + tuple(padding), constant_values=value)


def _slices(offset, out, stride, dilation):
    """Where the elements at kernel offset ``offset`` of all the windows sit in the padded input."""
    return (Ellipsis,) + tuple(slice(k * dl, k * dl + (o - 1) * s + 1, s)
                               for k, dl, o, s in zip(offset, dilation, out, stride))


def window_argmax(x, kernel, stride, padding, dilation, out):
    """(max over each window, the window position of its first maximum) for x padded with −inf."""
    xp = _pad(x, padding, -np.inf)
    win = windows(xp, kernel, stride, dilation, out)
    flat = win.reshape(win.shape[:win.ndim - len(kernel)] + (-1,))  # one copy: (*lead, *out, K)
    arg = flat.argmax(axis=-1)  # argmax takes the first of tied maxima, as PyTorch
    return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0], arg, xp.shape


def max_indices(arg, size, kernel, stride, padding, dilation):
    """PyTorch's return_indices: the flat index within the (unpadded) spatial dims of each window's maximum."""
    offsets = np.unravel_index(arg, kernel)
    d = len(kernel)
    flat = np.zeros(arg.shape, dtype=np.int64)
    for i in range(d):
        o = np.arange(arg.shape[arg.ndim - d + i]).reshape((-1,) + (1,) * (d - 1 - i))
        flat = flat * size[i] + (o * stride[i] - padding[i][0] + offsets[i] * dilation[i])
    return flat


class MaxPool(Function):
    """y = max of each window; the gradient goes to the window's first maximum, dy/dx = 1 there and 0 elsewhere.
    One pass of kernels.max_pool (and max_pool_backward) for 1-D and 2-D float32 input when the kernels apply; in
    inference (nothing recorded) ``_max_values``."""

    def forward(self, x, kernel, stride, padding, dilation, out):
        d = len(kernel)
        self.fused = d in (1, 2) and kernels.fits(x)
        if self.fused and not self.recording:
            return _max_values(x, kernel, stride, padding, dilation, out)
        if self.fused:
            lead = x.shape[:x.ndim - d]
            y = np.empty(lead + tuple(out), dtype=x.dtype)
            arg = np.empty(y.shape, dtype=np.int8 if math.prod(kernel) <= 127 else np.int64)  # kept for backward
            kernels.max_pool(as_planes(x, d, True), *plane_geometry(kernel, stride, padding, dilation),
                             as_planes(y, d, True), as_planes(arg, d, True))
            padded = None
        else:
            y, arg, padded = window_argmax(x, kernel, stride, padding, dilation, out)
        self.geometry = (x.shape, padded, kernel, stride, padding, dilation, out)
        self.save(arg)
        return y

    def backward(self, g):
        (arg,) = self.saved
        shape, padded, kernel, stride, padding, dilation, out = self.geometry
        d = len(kernel)
        if self.fused:
            gx = np.empty(shape, dtype=g.dtype)
            kernels.max_pool_backward(as_planes(np.ascontiguousarray(g), d, True), as_planes(arg, d, True),
                                      *plane_geometry(kernel, stride, padding, dilation), as_planes(gx, d, True))
            return gx
        gp = np.zeros(padded, dtype=g.dtype)
        for k, offset in enumerate(np.ndindex(*kernel)):
            gp[_slices(offset, out, stride, dilation)] += g * (arg == k)
        return unpad(gp, padding, shape[len(shape) - d:])

    @property
    def name(self) -> str:
        return f"MaxPool{len(self.geometry[2])}DWithIndicesBackward0"


def _max_values(x, kernel, stride, padding, dilation, out):
    """MaxPool's forward in inference (float32, 1-D or 2-D, kernels on): the values alone, in a scratch-pool buffer,
    the planes shared between threads (lamina.threads); 2×2 windows of stride 2 inside x by a loop without argmax."""
    d = len(kernel)
    y = scratch.result(x.shape[:x.ndim - d] + tuple(out), x.dtype)
    xs, ys = as_planes(x, d, True), as_planes(y, d, True)
    geometry = plane_geometry(kernel, stride, padding, dilation)
    if geometry == (2, 2, 2, 2, 0, 0, 1, 1) and 2 * ys.shape[2] <= xs.shape[2] and 2 * ys.shape[3] <= xs.shape[3]:
        def planes(start, stop):
            kernels.max_pool_2x2_values(xs[:, start:stop], ys[:, start:stop])
    else:
        arg = np.empty(ys.shape, dtype=np.int8 if math.prod(kernel) <= 127 else np.int64)

        def planes(start, stop):
            kernels.max_pool(xs[:, start:stop], *geometry, ys[:, start:stop], arg[:, start:stop])

    threads.run(planes, threads.split(xs.shape[1], threads.threads_for(x.size)))
    return y


def avg_divisor(size, kernel, stride, padding, out, count_include_pad, dtype):
    """PyTorch's divisor per window: its size clipped to the padded input (count_include_pad) or to the input."""
    divisor = np.ones((), dtype=np.float64)
    for n, k, s, (lo, _), o in zip(size, kernel, stride, padding, out):
        start = np.arange(o) * s - lo
        end = np.minimum(start + k, n + lo)
        counts = end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)
        divisor = np.multiply.outer(divisor, counts)
    return divisor.astype(dtype)


class AvgPool(Function):
    """y = Σ window / divisor; dy/dx = 1/divisor for each element of each window (summed over windows)"""

    def forward(self, x, kernel, stride, padding, out, divisor):
        xp = _pad(x, padding, 0)
        win = windows(xp, kernel, stride, (1,) * len(kernel), out)
        y = win.sum(axis=tuple(range(win.ndim - len(kernel), win.ndim)))
        self.geometry = (x.shape, xp.shape, kernel, stride, padding, out)
        self.save(divisor)
        return y / divisor

    def backward(self, g):
        (divisor,) = self.saved
        shape, padded, kernel, stride, padding, out = self.geometry
        share = g / divisor
        gp = np.zeros(padded, dtype=g.dtype)
        for offset in np.ndindex(*kernel):
            gp[_slices(offset, out, stride, (1,) * len(kernel))] += share
        return unpad(gp, padding, shape[len(shape) - len(kernel):])

    @property
    def name(self) -> str:
        return f"AvgPool{len(self.geometry[2])}DBackward0"


def adaptive_bounds(n, o):
    """PyTorch's adaptive windows: output i pools [⌊i·n/o⌋, ⌈(i + 1)·n/o⌉)."""
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def adaptive_max_indices(x, out):
    """The flat spatial index of the first maximum of each adaptive window of x (*lead, *size)."""
    d = len(out)
    size = x.shape[x.ndim - d:]
    index, starts, valid = [], [], np.ones((1,) * 2 * d, dtype=bool)
    for i, (n, o) in enumerate(zip(size, out)):
        start, end = adaptive_bounds(n, o)
        starts.append(start)
        idx = start[:, None] + np.arange(int((end - start).max()))  # (o, widest window)
        shape = [1] * 2 * d
        shape[i], shape[d + i] = idx.shape
        index.append(np.minimum(idx, n - 1).reshape(shape))
        valid = valid & (idx < end[:, None]).reshape(shape)
    win = np.where(valid, x[(Ellipsis,) + tuple(index)], -np.inf)  # (*lead, *out, *widest)
    flat = win.reshape(win.shape[:win.ndim - d] + (-1,))
    arg = flat.argmax(axis=-1)  # first maximum, as PyTorch
    position = np.zeros(arg.shape, dtype=np.int64)
    for i, k in enumerate(np.unravel_index(arg, win.shape[win.ndim - d:])):
        position = position * size[i] + starts[i].reshape((-1,) + (1,) * (d - 1 - i)) + k
    return position


class AdaptiveMaxPool(Function):
    """y = max of each adaptive window (gathered at the indices of the first maxima); dy/dx = 1 at those indices"""

    def forward(self, x, out):
        d = len(out)
        idx = adaptive_max_indices(x, out)
        lead = x.shape[:x.ndim - d]
        y = np.take_along_axis(x.reshape(lead + (-1,)), idx.reshape(lead + (-1,)), axis=-1)
        self.shape, self.lead = x.shape, lead
        self.save(idx)
        return y.reshape(lead + tuple(out))

    def backward(self, g):
        (idx,) = self.saved
        rows = math.prod(self.lead)
        size = math.prod(self.shape) // max(rows, 1)
        flat = (np.arange(rows).reshape(self.lead + (1,) * (idx.ndim - len(self.lead))) * size + idx).ravel()
        gx = np.bincount(flat, weights=g.ravel(), minlength=rows * size)  # an input in several windows: summed
        return gx.astype(g.dtype).reshape(self.shape)


def adaptive_avg_matrix(n, o):
    """A (o, n): row i averages input positions [⌊i·n/o⌋, ⌈(i + 1)·n/o⌉)."""
    start, end = adaptive_bounds(n, o)
    j = np.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return inside / (end - start)[:, None]


def interpolation_matrix(n, o, mode, align_corners, scale):
    """A (o, n) of PyTorch's 1-D interpolation weights: 'nearest', 'nearest-exact' or 'linear'. ``scale`` is the
    user's scale_factor (None: n/o is used), as PyTorch passes it on."""
    a = np.zeros((o, n))
    rows = np.arange(o)
    if mode in ("nearest", "nearest-exact"):
        step = np.float32(1.0 / scale if scale else n / o)  # PyTorch computes the source index in float32
        shift = np.float32(0.5 if mode == "nearest-exact" else 0.0)
        src = np.floor((rows.astype(np.float32) + shift) * step).astype(np.int64)
        a[rows, np.minimum(src, n - 1)] = 1
        return a
    if align_corners:
        step = (n - 1) / (o - 1) if o > 1 else 0.0
        src = np.float32(step) * rows.astype(np.float32)
    else:
        step = np.float32(1.0 / scale if scale else n / o)
        src = np.maximum(step * (rows.astype(np.float32) + np.float32(0.5)) - np.float32(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w1 = (src - i0).astype(np.float64)
    a[rows, i0] = 1 - w1
    a[rows, i1] += w1
    return a


class AxisMaps(Function):
    """y = x ×₁ A₁ ×₂ A₂ … (the linear map A_i (out_i, in_i) along spatial axis i); dx = g ×₁ A₁ᵀ ×₂ A₂ᵀ …"""

    def forward(self, x, maps):
        maps = tuple(np.asarray(a, dtype=x.dtype) for a in maps)
        self.save(maps)
        return self._apply(x, maps, transpose=False)

    def backward(self, g):
        (maps,) = self.saved
        return self._apply(g, maps, transpose=True)

    @staticmethod
    def _apply(x, maps, transpose):
        d = len(maps)
        for i, a in enumerate(maps):
            axis = x.ndim - d + i
            x = np.moveaxis(np.tensordot(x, a, axes=([axis], [0 if transpose else 1])), -1, axis)
        return np.ascontiguousarray(x)


def pooled_size(n, k, s, p, dl, ceil_mode):
    """PyTorch's pooling output size; with ceil_mode the last window must start inside the input or left padding."""
    o = (n + 2 * p - dl * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def pool_padding(size, kernel, stride, padding, dilation, out):
    """((lo, hi), ...): hi grows past the padding where ceil_mode's last window reaches beyond it."""
    return tuple((p, max(p, (o - 1) * s + dl * (k - 1) + 1 - n - p))
                 for n, k, s, p, dl, o in zip(size, kernel, stride, padding, dilation, out))

