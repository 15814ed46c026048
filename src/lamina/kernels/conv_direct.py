"""Direct convolution for layers with few input values per output (C/G · kernel size small), for lamina/ops/conv.py.

With one input channel and a 5×5 kernel, im2col's column matrix is 25 times the input, and writing and reading
it again costs more than the arithmetic. These loops never build it. Each sample is copied into a small padded
plane buffer (zeros around it), and for each output channel and kernel offset the loop adds the weight times the
input shifted by that offset to the output: one long contiguous loop per offset over the output plane laid out
at the padded width (the columns past the output width are computed and dropped), so it vectorises. Offsets of a
kernel row go four at a time through the loop, added in order, which reads and writes the output a quarter as
often. One thread: numba's parallel loops over samples, run next to OpenBLAS's two threads (which spin between
products), made both the loop and the next products several times slower on two cores (measured: LeNet's first
layer 0.56 ms forward with one thread, 3-4 ms with two).

Geometry: the padded buffer's shape (C, hp, wp) carries the padding (the input sits at (ph, pw) in it); stride
(sh, sw) and dilation (dh, dw). 1-D inputs come as H = 1.

``direct_conv`` adds in the order of ops.conv.direct_reference (bias, then channel by channel, kernel offsets in
order, each a product then a sum), so the outputs are the same bits as that NumPy code. (The weight gradient stays
a GEMM over the columns: as a loop it has to sum, which vectorises only with reordering, or keep a partial sum per
position, which was slower than im2col and the GEMM for LeNet's first layer.)
"""

from __future__ import annotations

import numpy as np

from lamina.kernels import jit

_0 = np.float32(0)




@jit
def _pad_sample(x, n, ph, pw, buf):
    """buf ← x[n] at (ph, pw) inside zeros."""
    nc, h, w = x.shape[1], x.shape[2], x.shape[3]
    buf[:] = _0
    for c in range(nc):
        for r in range(h):
            dst = buf[c, r + ph, pw:pw + w]
            src = x[n, c, r]
            for q in range(w):
                dst[q] = src[q]


@jit
def _segments(oh, ow, sh, sw, wp):
    """(count, length, input step between segments): the whole plane as one segment at stride 1, else a row each."""
    if sh == 1 and sw == 1:
        return 1, (oh - 1) * wp + ow, 0
    return oh, ow, sh * wp


@jit
def _accumulate(ob, src, w, o, c, kh, kw, dh, dw, wp, count, length, step):
    """ob[s·wp + t] += w[o, c, i, j] · src[s·step + i·dh·wp + j·dw + t] for each kernel offset (i, j) in order
    (src a contiguous padded plane: stride 1)."""
    for i in range(kh):
        j = 0
        while j + 4 <= kw:
            w0, w1, w2, w3 = w[o, c, i, j], w[o, c, i, j + 1], w[o, c, i, j + 2], w[o, c, i, j + 3]
            for s in range(count):
                at = s * step + i * dh * wp + j * dw
                d = ob[s * wp:s * wp + length]
                s0, s1 = src[at:at + length], src[at + dw:at + dw + length]
                s2, s3 = src[at + 2 * dw:at + 2 * dw + length], src[at + 3 * dw:at + 3 * dw + length]
                for t in range(length):
                    d[t] = d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]
            j += 4
        while j < kw:
            wv = w[o, c, i, j]
            for s in range(count):
                at = s * step + i * dh * wp + j * dw
                d = ob[s * wp:s * wp + length]
                s0 = src[at:at + length]
                for t in range(length):
                    d[t] += wv * s0[t]
            j += 1


@jit
def _accumulate_strided(ob, src, w, o, c, kh, kw, sw, dh, dw, wp, count, length, step):
    """_accumulate at column stride sw > 1, one kernel offset at a time."""
    for i in range(kh):
        for j in range(kw):
            wv = w[o, c, i, j]
            for s in range(count):
                at = s * step + i * dh * wp + j * dw
                d = ob[s * wp:s * wp + length]
                s0 = src[at:at + (length - 1) * sw + 1:sw]
                for t in range(length):
                    d[t] += wv * s0[t]


@jit
def _one_sample(x, w, b, n, ph, pw, groups, dh, dw, sw, wp, count, length, step, buf, flat, ob, y):
    no, cg, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    og = no // groups
    _pad_sample(x, n, ph, pw, buf)
    for o in range(no):
        g = o // og
        if b is None:
            ob[:] = _0
        else:
            ob[:] = b[o]
        for c in range(cg):
            if sw == 1:
                _accumulate(ob, flat[g * cg + c], w, o, c, kh, kw, dh, dw, wp, count, length, step)
            else:
                _accumulate_strided(ob, flat[g * cg + c], w, o, c, kh, kw, sw, dh, dw, wp, count, length, step)
        for p in range(oh):
            dst = y[n, o, p]
            src = ob[p * wp:p * wp + ow]
            for q in range(ow):
                dst[q] = src[q]


@jit
def direct_conv(x, w, b, hp, wp, ph, pw, sh, sw, dh, dw, groups, y):
    """y[n, o] ← b[o] + Σ_(c, i, j) w[o, c, i, j] · x_padded[n, g·C/G + c, p·sh + i·dh, q·sw + j·dw] (b None: 0),
    as ops.conv.direct_reference; x (N, C, H, W), w (O, C/G, kh, kw), y (N, O, oh, ow), hp × wp the padded plane."""
    nb, nc = x.shape[0], x.shape[1]
    oh, ow = y.shape[2], y.shape[3]
    count, length, step = _segments(oh, ow, sh, sw, wp)
    buf = np.empty((nc, hp, wp), dtype=x.dtype)
    flat = buf.reshape(nc, hp * wp)
    ob = np.empty(oh * wp, dtype=x.dtype)
    for n in range(nb):
        _one_sample(x, w, b, n, ph, pw, groups, dh, dw, sw, wp, count, length, step, buf, flat, ob, y)
