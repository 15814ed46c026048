"""Convolutions as matrix products over sliding windows (im2col), and their adjoint (col2im).

A convolution of x (N, C, *size) with W (O, C/G, *kernel) takes, for each output position, the window of x it
sees: ``windows`` is a strided view (no copy) of the padded input, ``columns`` copies it once into a matrix of
C·K rows (K = kernel positions) and N·L columns (L = output positions), and one GEMM with W as a (O, C·K)
matrix gives every output. The backward pass is two GEMMs (Gᵀ against the columns for dW, Wᵀ·G for the
gradient of the columns) and ``col2im``, which adds the columns back onto the input in K strided slice
additions, one per kernel offset: every element of x receives the sum of the gradients of all the windows it is
in. A transposed convolution runs the same two halves the other way round.

Shapes: ``padding`` is ((lo, hi), ...) per spatial dim; ``stride``, ``dilation`` are tuples; the spatial dims are
the trailing ones, so the same code serves 1-D, 2-D (and 3-D) inputs.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lamina import kernels, threads
from lamina.autograd.function import Function
from lamina.ops import scratch


def pad_zeros(x, padding, lead: int = 2):
    """x with zeros added around its trailing dims: padding ((lo, hi), ...) per trailing dim."""
    if not any(lo or hi for lo, hi in padding):
        return x
    return np.pad(x, ((0, 0),) * lead + tuple(padding))


def unpad(xp, padding, size):
    """The inverse of pad_zeros on a gradient: the centre of size ``size``."""
    return xp[(Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(padding, size))]


def windows(xp, kernel, stride, dilation, out=None):
    """View (*lead, *out, *kernel) of xp's trailing dims: windows[..., o, k] = xp[..., o·stride + k·dilation].
    ``out`` limits the number of windows per dim (the first ones)."""
    d = len(kernel)
    extent = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    view = sliding_window_view(xp, extent, axis=tuple(range(xp.ndim - d, xp.ndim)))
    if out is None:
        out = tuple((n - e) // s + 1 for n, e, s in zip(xp.shape[-d:], extent, stride))
    steps = tuple(slice(None, (o - 1) * s + 1, s) for o, s in zip(out, stride)) + tuple(slice(None, None, dl)
                                                                                       for dl in dilation)
    return view[(Ellipsis,) + steps]


def columns(win, lead: int = 2):
    """Copy windows (N, C, *out, *kernel) once into the matrix (C·K, N·L) of the convolution's GEMM."""
    d = (win.ndim - lead) // 2
    order = (1,) + tuple(range(lead + d, lead + 2 * d)) + (0,) + tuple(range(lead, lead + d))
    cols = np.empty(tuple(win.shape[i] for i in order), dtype=win.dtype)
    np.copyto(cols, win.transpose(order))
    return cols


def col2im(cols, padded, stride, dilation):
    """Sum window values cols (*lead, *kernel, *out) back onto an array of shape (*lead, *padded): one strided
    slice addition per kernel offset (the adjoint of ``windows``)."""
    d = len(padded)
    lead, kernel, out = cols.shape[:-2 * d], cols.shape[-2 * d:-d], cols.shape[-d:]
    xp = np.zeros(lead + tuple(padded), dtype=cols.dtype)
    for offset in np.ndindex(*kernel):
        at = tuple(slice(k * dl, k * dl + (o - 1) * s + 1, s) for k, dl, o, s in zip(offset, dilation, out, stride))
        xp[(Ellipsis,) + at] += cols[(Ellipsis,) + offset + (slice(None),) * d]
    return xp


def plane_geometry(kernel, stride, padding, dilation):
    """The kernels' 2-D geometry (kh, kw, sh, sw, ph, pw, dh, dw) of 1-D or 2-D options (1-D as height 1)."""
    if len(kernel) == 1:
        return 1, kernel[0], 1, stride[0], 0, padding[0][0], 1, dilation[0]
    (kh, kw), (sh, sw), ((ph, _), (pw, _)), (dh, dw) = kernel, stride, padding, dilation
    return kh, kw, sh, sw, ph, pw, dh, dw


def as_planes(a, d, merge: bool = False):
    """(N, C, L) as (N, C, 1, L); (N, C, H, W) as itself (a view: ``a`` is C-contiguous). ``merge``: any leading
    dims (*lead, *size) as (1, Π lead, ...)."""
    lead = (1, math.prod(a.shape[:a.ndim - d])) if merge else a.shape[:2]
    return a.reshape(lead + (1,) * (2 - d) + a.shape[a.ndim - d:])


def _kernel_fits(x, kernel):
    return len(kernel) in (1, 2) and kernels.fits(x)


SMALL_COLUMNS = 2**16  # elements: above this NumPy's strided copy beats the kernel's loop (measured, 2 to 2.5x)


def unpadded_windows_1d(x, k, s, dl, out):
    """The windows of a C-contiguous (N, C, L) x without padding as a view (C, k, N, out) in the columns' order:
    view[c, j, n, q] = x[n, c, q·s + j·dl]. One ndarray call: the copy of this view into the columns beats
    kernels.im2col's loop 2-3x on 1-D layers (rows of a few outputs, where the loop's per-row cost dominates)."""
    sn, sc, sl = x.strides
    return np.ndarray((x.shape[1], k, x.shape[0], out), x.dtype, x, 0, (sc, sl * dl, sn, sl * s))


def im2col(x, kernel, stride, padding, dilation, out):
    """The column matrix of x (N, C, *size) as (C, *kernel, N, *out), in a scratch buffer (conv.scratch): one
    pass of kernels.im2col for a small matrix (NumPy's pad, view and copy cost several calls), else the padded
    windows copied once; a 1-D input without padding: its windows' view copied once."""
    n, c, d = x.shape[0], x.shape[1], len(kernel)
    cols = scratch.take((c,) + tuple(kernel) + (n,) + tuple(out), x.dtype)
    if d == 1 and padding[0] == (0, 0) and x.flags.c_contiguous:
        np.copyto(cols, unpadded_windows_1d(x, kernel[0], stride[0], dilation[0], out[0]))
        return cols
    if cols.size <= SMALL_COLUMNS and _kernel_fits(x, kernel):
        g = plane_geometry(kernel, stride, padding, dilation)
        kernels.im2col(as_planes(x, d), *g, cols.reshape((c, g[0], g[1], n) + (1,) * (2 - d) + tuple(out)))
        return cols
    win = windows(pad_zeros(x, padding), kernel, stride, dilation, out)
    np.copyto(cols, win.transpose((1,) + tuple(range(2 + d, 2 + 2 * d)) + (0,) + tuple(range(2, 2 + d))))
    return cols


def col2im_to(cols, size, stride, padding, dilation):
    """The adjoint of im2col: columns (C, *kernel, N, *out) summed back onto a new (N, C, *size) array (whose
    padding ((lo, hi), ...) is dropped): one pass of kernels.col2im, or ``col2im``'s slice additions."""
    d = len(size)
    c, kernel, n, out = cols.shape[0], cols.shape[1:1 + d], cols.shape[1 + d], cols.shape[2 + d:]
    if _kernel_fits(cols, kernel):
        g = plane_geometry(kernel, stride, padding, dilation)
        gx = np.empty((n, c) + tuple(size), dtype=cols.dtype)
        kernels.col2im(cols.reshape((c, g[0], g[1], n) + (1,) * (2 - d) + tuple(out)), *g, as_planes(gx, d))
        return gx
    padded = tuple(max(lo + m + hi, (o - 1) * s + dl * (k - 1) + 1)
                   for m, (lo, hi), o, s, dl, k in zip(size, padding, out, stride, dilation, kernel))
    return np.ascontiguousarray(unpad(col2im(np.moveaxis(cols, 1 + d, 0), padded, stride, dilation), padding, size))


def _by_group(a, groups):
    """(N, C, *size) -> (G, C/G, N·L): the channels of each group as the rows of a matrix."""
    n, c = a.shape[:2]
    return a.reshape(n, groups, c // groups, -1).transpose(1, 2, 0, 3).reshape(groups, c // groups, -1)


def _gradient_by_group(g, groups):
    """_by_group of an output gradient, in a scratch buffer (conv.scratch; a fresh one costs page faults)."""
    n, c = g.shape[:2]
    view = g.reshape(n, groups, c // groups, -1).transpose(1, 2, 0, 3)
    m = scratch.take(view.shape, g.dtype)
    np.copyto(m, view)
    return m.reshape(groups, c // groups, -1)


def _from_group(m, n, size):
    """(G, C/G, N·L) -> (N, C, *size), C-contiguous."""
    c = m.shape[0] * m.shape[1]
    return np.ascontiguousarray(m.reshape((c, n) + tuple(size)).swapaxes(0, 1))


def _add_bias(y, b):
    if b is not None:
        y += b.reshape((-1,) + (1,) * (y.ndim - 2))
    return y


# input values per output (C/G · kernel size) up to which kernels.direct_conv beats im2col + GEMM, measured on
# 2-D stride-1 layers at batch 64 (2 BLAS threads): forward alone 0.3-0.65x of im2col's time for 9 to 36, 0.9x at
# 54, 1.05x at 150; forward + backward (which still makes the columns, for dW) 0.85-0.9x up to 25, 1.0-1.15x above.
# 1-D layers and strides > 1 lost (2-3.5x slower: rows too short for the loop to pay): they keep im2col.
DIRECT = 25  # when the graph is kept for a backward pass
DIRECT_INFERENCE = 54  # when it is not


def direct_fits(x, w, b, keep: bool = True) -> bool:
    """True when kernels.direct_conv applies and pays: 2-D float32 input, few input values per output (see DIRECT).
    The stride is checked by the caller."""
    limit = DIRECT if keep else DIRECT_INFERENCE
    return (x.ndim == 4 and w.shape[1] * math.prod(w.shape[2:]) <= limit and kernels.fits(x)
            and kernels.fits(w) and (b is None or kernels.fits(b)))


def direct_reference(x, w, b, stride, padding, dilation, groups, out):
    """The direct convolution in NumPy, the definition kernels.direct_conv follows bit for bit: y = b, then for each
    input channel c of a group and each kernel offset k in order, y += w[:, c, k] · (the padded input at offset k)
    over the outputs of that group, a product then a sum."""
    n, o, cg, d = x.shape[0], w.shape[0], w.shape[1], x.ndim - 2
    win = windows(pad_zeros(x, padding), w.shape[2:], stride, dilation, out)  # (N, C, *out, *kernel)
    y = np.zeros((n, o) + tuple(out), dtype=x.dtype)
    _add_bias(y, b)
    og = o // groups
    for g in range(groups):
        ys = y[:, g * og:(g + 1) * og]
        for c in range(cg):
            for k in np.ndindex(*w.shape[2:]):
                scale = w[(slice(g * og, (g + 1) * og), c) + k].reshape((-1,) + (1,) * d)
                ys += scale * win[(slice(None), g * cg + c, Ellipsis) + k][:, None]
    return y


def _direct(x, w, b, padding, dilation, groups, out, parallel=False):
    """kernels.direct_conv at stride 1: y (N, O, *out); ``parallel`` (inference): the samples shared between threads
    and y from the scratch pool."""
    shape = (x.shape[0], w.shape[0]) + tuple(out)
    y = scratch.result(shape, x.dtype) if parallel else np.empty(shape, dtype=x.dtype)
    (hp, wp), ((ph, _), (pw, _)) = (tuple(m + lo + hi for m, (lo, hi) in zip(x.shape[2:], padding)), padding)

    def samples(start, stop):
        kernels.direct_conv(x[start:stop], w, b, hp, wp, ph, pw, *dilation, groups, y[start:stop])

    n = x.shape[0]
    threads.run(samples, threads.split(n, threads.threads_for(y.size) if parallel else 1))
    return y


BLOCK = 2**21  # column-matrix elements per block of samples when nothing is kept for backward (8 MiB of float32)


def _product(x, w, b, kernel, stride, padding, dilation, groups, out, y):
    """y ← W·cols(x) + b for the samples of x, written into y (N, O, *out); returns (cols, W by group)."""
    n, o = x.shape[0], w.shape[0]
    cols = im2col(x, kernel, stride, padding, dilation, out)
    flat = cols.reshape(groups, -1, n * math.prod(out))  # (G, C/G·K, N·L)
    wg = w.reshape(groups, o // groups, -1)  # (G, O/G, C/G·K)
    ym = np.matmul(wg, flat, out=scratch.take((groups, o // groups, flat.shape[2]), x.dtype))  # (G, O/G, N·L)
    if kernels.fits(ym) and (b is None or kernels.fits(b)):
        kernels.conv_output(ym.reshape(o, n, -1), b, y.reshape(n, o, -1))
    else:
        y[...] = _add_bias(_from_group(ym, n, out), b)
    return cols, wg


class Convolution(Function):
    """y = W·cols(x) + b, one GEMM per group; dW = G·colsᵀ, dx = col2im(Wᵀ·G), db = Σ G over all dims but 1.

    Nothing recorded (inference): blocks of samples whose column matrix stays in the cache, one after another,
    instead of one large matrix, and shared between threads (lamina.threads) when there is enough work.

    Few input values per output (``direct_fits``): kernels.direct_conv without a column matrix, x kept for the
    backward pass instead of its columns, which the backward pass makes for dW (dx needs only W and G)."""

    direct = False

    def forward(self, x, w, b, stride, padding, dilation, groups):
        n, size, kernel = x.shape[0], x.shape[2:], w.shape[2:]
        out = tuple((m + lo + hi - dl * (k - 1) - 1) // s + 1
                    for m, (lo, hi), k, s, dl in zip(size, padding, kernel, stride, dilation))
        keep = self.recording
        if all(s == 1 for s in stride) and direct_fits(x, w, b, keep):
            y = _direct(x, w, b, padding, dilation, groups, out, parallel=not keep)
            if keep:
                self.direct = True
                self.geometry = (n, x.shape[1], size, kernel, out, stride, padding, dilation, groups)
                self.has_bias = b is not None
                self.save(x, w)
            return y
        per_sample = max(1, x.shape[1] * math.prod(kernel) * math.prod(out))
        if keep:
            y = np.empty((n, w.shape[0]) + out, dtype=x.dtype)
            cols, wg = _product(x, w, b, kernel, stride, padding, dilation, groups, out, y)
            self.geometry = (n, x.shape[1], size, kernel, out, stride, padding, dilation, groups)
            self.has_bias = b is not None
            self.save(cols, wg)
            return y
        y = scratch.result((n, w.shape[0]) + out, x.dtype)
        parts = threads.threads_for(n * per_sample)
        step = max(1, min(BLOCK // per_sample, -(-n // parts)))  # samples per block: at least one block a thread

        def blocks(first, stop):
            for start in range(first * step, min(stop * step, n), step):
                _product(x[start:start + step], w, b, kernel, stride, padding, dilation, groups, out,
                         y[start:start + step])

        threads.run(blocks, threads.split(-(-n // step), parts))
        return y

    def backward(self, g):
        n, c, size, kernel, out, stride, padding, dilation, groups = self.geometry
        if self.direct:  # x was kept, not its columns: they are made below, for dW only
            x, w = self.saved
            cols, wg = None, w.reshape(groups, w.shape[0] // groups, -1)
        else:
            cols, wg = self.saved
        gm = _gradient_by_group(g, groups)  # (G, O/G, N·L)
        gx = gw = gb = None
        if self.needs[0]:
            gcols = np.matmul(wg.transpose(0, 2, 1), gm, out=scratch.take((groups, wg.shape[2], gm.shape[2]), g.dtype))
            gx = col2im_to(gcols.reshape((c,) + kernel + (n,) + out), size, stride, padding, dilation)
        if self.needs[1]:
            if cols is None:
                cols = im2col(x, kernel, stride, padding, dilation, out)
            gw = np.matmul(gm, cols.reshape(groups, -1, gm.shape[2]).transpose(0, 2, 1)).reshape(
                (-1, c // groups) + kernel)
        if self.has_bias and self.needs[2]:
            gb = gm.sum(axis=-1).reshape(-1)  # the rows of the contiguous (O, N·L) copy: quicker than g's axes 0, 2
        return gx, gw, gb

    @property
    def name(self) -> str:
        return "ConvolutionBackward0"


def transposed_size(size, kernel, stride, padding, output_padding, dilation):
    """The output size of a transposed convolution: (n − 1)·s − 2p + d·(k − 1) + output_padding + 1 per dim."""
    return tuple((n - 1) * s - 2 * p + dl * (k - 1) + op + 1
                 for n, k, s, p, op, dl in zip(size, kernel, stride, padding, output_padding, dilation))


class ConvTranspose(Function):
    """y = col2im(Wᵀ·x) + b (the adjoint of Convolution's product); dx = W·cols(G), dW = x·cols(G)ᵀ, db = Σ G"""

    def forward(self, x, w, b, stride, padding, output_padding, dilation, groups):
        n, size, kernel = x.shape[0], x.shape[2:], w.shape[2:]
        out = transposed_size(size, kernel, stride, padding, output_padding, dilation)
        # col2im writes (n − 1)·s + d·(k − 1) + 1 positions; output_padding may reach beyond them (zeros there)
        full = tuple(max(p + o, (m - 1) * s + dl * (k - 1) + 1)
                     for p, o, m, s, dl, k in zip(padding, out, size, stride, dilation, kernel))
        xg = _by_group(x, groups)  # (G, C/G, N·L)
        wg = w.reshape(groups, w.shape[0] // groups, -1)  # (G, C/G, O/G·K)
        cols = np.matmul(wg.transpose(0, 2, 1), xg)  # (G, O/G·K, N·L)
        cout = cols.shape[0] * cols.shape[1] // math.prod(kernel)
        cols = np.moveaxis(cols.reshape((cout,) + kernel + (n,) + size), 1 + len(kernel), 0)
        y = unpad(col2im(cols, full, stride, dilation), tuple((p, 0) for p in padding), out)
        self.geometry = (n, size, full, out, kernel, stride, padding, dilation, groups)
        self.has_bias = b is not None
        self.save(xg, wg)
        return _add_bias(np.ascontiguousarray(y), b)

    def backward(self, g):
        xg, wg = self.saved
        n, size, full, out, kernel, stride, padding, dilation, groups = self.geometry
        gp = np.zeros(g.shape[:2] + full, dtype=g.dtype)
        gp[(Ellipsis,) + tuple(slice(p, p + o) for p, o in zip(padding, out))] = g
        cols = columns(windows(gp, kernel, stride, dilation, size)).reshape(groups, -1, n * math.prod(size))
        gx = gw = gb = None
        if self.needs[0]:
            gx = _from_group(np.matmul(wg, cols), n, size)
        if self.needs[1]:
            gw = np.matmul(xg, cols.transpose(0, 2, 1)).reshape((-1, g.shape[1] // groups) + kernel)
        if self.has_bias and self.needs[2]:
            gb = g.sum(axis=(0,) + tuple(range(2, g.ndim)))
        return gx, gw, gb

    @property
    def name(self) -> str:
        return "ConvolutionBackward0"


class Unfold(Function):
    """im2col: y[n, (c, k), l] = x_padded[n, c, o_l·s + k·d]; dx = col2im(g)"""

    def forward(self, x, kernel, stride, padding, dilation):
        n, c, size = x.shape[0], x.shape[1], x.shape[2:]
        xp = pad_zeros(x, padding)
        win = windows(xp, kernel, stride, dilation)  # (N, C, *out, *kernel)
        d = len(kernel)
        self.geometry = (size, xp.shape[2:], win.shape[2:2 + d], kernel, stride, padding, dilation)
        order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
        return np.ascontiguousarray(win.transpose(order)).reshape(n, c * math.prod(kernel), -1)

    def backward(self, g):
        size, padded, out, kernel, stride, padding, dilation = self.geometry
        cols = g.reshape((g.shape[0], -1) + kernel + out)
        return unpad(col2im(cols, padded, stride, dilation), padding, size)


class Fold(Function):
    """col2im: y[n, c, p] = Σ of x[n, (c, k), l] over the windows (l, k) that cover p; dx = im2col(g)"""

    def forward(self, x, size, kernel, stride, padding, dilation):
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
        out = tuple((p - dl * (k - 1) - 1) // s + 1 for p, k, s, dl in zip(padded, kernel, stride, dilation))
        self.geometry = (kernel, stride, padding, dilation, out)
        cols = x.reshape((x.shape[0], -1) + kernel + out)
        return np.ascontiguousarray(unpad(col2im(cols, padded, stride, dilation), padding, size))

    def backward(self, g):
        kernel, stride, padding, dilation, out = self.geometry
        win = windows(pad_zeros(g, padding), kernel, stride, dilation, out)
        d = len(kernel)
        order = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
        return np.ascontiguousarray(win.transpose(order)).reshape(g.shape[0], -1, math.prod(out))
