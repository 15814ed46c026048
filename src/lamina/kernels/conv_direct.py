"""Direct convolution for layers with few input values per output (C/G · kernel size small), for lamina/ops/conv.py.

With one input channel and a 5×5 kernel, im2col's column matrix is 25 times the input, and writing and reading
it again costs more than the arithmetic. These loops never build it. Each sample is copied into a small padded
plane buffer (zeros around it), and for each output channel and kernel offset the loop adds the weight times the
input shifted by that offset to the output: one long contiguous loop per offset over the output plane laid out
at the padded width (the columns past the output width are computed and dropped), so it vectorises. The kernel
offsets go eight (then four) at a time through the loop, added in order, which reads and writes the output an
eighth as often. One thread: numba's parallel loops over samples, run next to OpenBLAS's two threads (which spin between
products), made both the loop and the next products several times slower on two cores (measured: LeNet's first
layer 0.56 ms forward with one thread, 3-4 ms with two). In inference lamina.threads runs it on ranges of samples
in two threads at once instead, with BLAS on one thread.

Stride 1 only (a strided output reads every other input and the loop no longer runs over contiguous memory);
ops.conv takes this path only where it measured faster than im2col and the GEMM. Geometry: the padded plane
(hp, wp) (the input sits at (ph, pw) in it) and the dilation (dh, dw).

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
def _accumulate(d, src, wt, offs, length):
    """d[t] += wt[k] · src[offs[k] + t] for t < length, for each kernel offset k in order; eight or four offsets per
    pass over d, added in order."""
    taps = offs.shape[0]
    k = 0
    while k + 8 <= taps:
        w0, w1, w2, w3, w4, w5, w6, w7 = wt[k], wt[k + 1], wt[k + 2], wt[k + 3], wt[k + 4], wt[k + 5], \
            wt[k + 6], wt[k + 7]
        s0, s1 = src[offs[k]:offs[k] + length], src[offs[k + 1]:offs[k + 1] + length]
        s2, s3 = src[offs[k + 2]:offs[k + 2] + length], src[offs[k + 3]:offs[k + 3] + length]
        s4, s5 = src[offs[k + 4]:offs[k + 4] + length], src[offs[k + 5]:offs[k + 5] + length]
        s6, s7 = src[offs[k + 6]:offs[k + 6] + length], src[offs[k + 7]:offs[k + 7] + length]
        for t in range(length):
            d[t] = (d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t] + w4 * s4[t] + w5 * s5[t]
                    + w6 * s6[t] + w7 * s7[t])
        k += 8
    while k + 4 <= taps:
        w0, w1, w2, w3 = wt[k], wt[k + 1], wt[k + 2], wt[k + 3]
        s0, s1 = src[offs[k]:offs[k] + length], src[offs[k + 1]:offs[k + 1] + length]
        s2, s3 = src[offs[k + 2]:offs[k + 2] + length], src[offs[k + 3]:offs[k + 3] + length]
        for t in range(length):
            d[t] = d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]
        k += 4
    while k < taps:
        w0 = wt[k]
        s0 = src[offs[k]:offs[k] + length]
        for t in range(length):
            d[t] += w0 * s0[t]
        k += 1


@jit
def _one_sample(x, w, b, n, ph, pw, groups, offs, buf, flat, ob, y):
    """y[n] from sample n of x: the padded copy in buf (flat: the same as (C, hp·wp)), each output plane in ob."""
    no, cg = w.shape[0], w.shape[1]
    oh, ow, wp = y.shape[2], y.shape[3], buf.shape[2]
    og = no // groups
    length = (oh - 1) * wp + ow  # output positions at the padded width, up to the last one
    _pad_sample(x, n, ph, pw, buf)
    for o in range(no):
        g = o // og
        if b is None:
            ob[:] = _0
        else:
            ob[:] = b[o]
        for c in range(cg):
            _accumulate(ob, flat[g * cg + c], w[o, c].ravel(), offs, length)
        for p in range(oh):
            dst = y[n, o, p]
            src = ob[p * wp:p * wp + ow]
            for q in range(ow):
                dst[q] = src[q]


@jit
def direct_conv(x, w, b, hp, wp, ph, pw, dh, dw, groups, y):
    """y[n, o] ← b[o] + Σ_(c, i, j) w[o, c, i, j] · x_padded[n, g·C/G + c, p + i·dh, q + j·dw] (b None: 0), as
    ops.conv.direct_reference at stride 1; x (N, C, H, W), w (O, C/G, kh, kw), y (N, O, oh, ow), hp × wp the
    padded plane."""
    nb, nc, kh, kw = x.shape[0], x.shape[1], w.shape[2], w.shape[3]
    buf = np.empty((nc, hp, wp), dtype=x.dtype)
    flat = buf.reshape(nc, hp * wp)
    ob = np.empty(y.shape[2] * wp, dtype=x.dtype)
    offs = np.empty(kh * kw, dtype=np.int64)  # where each kernel offset starts in the flat padded plane
    for i in range(kh):
        for j in range(kw):
            offs[i * kw + j] = i * dh * wp + j * dw
    for n in range(nb):
        _one_sample(x, w, b, n, ph, pw, groups, offs, buf, flat, ob, y)
