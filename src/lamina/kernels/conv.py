"""Sliding windows in one pass: im2col, col2im and max pooling over (N, C, H, W), for lamina/ops/conv.py and pool.py.

The NumPy code pads the input (a copy), takes a strided view of its windows and copies that view into the column
matrix (a gather NumPy does element by element at a stride of 36 bytes or so), and adds columns back with one
strided slice addition per kernel offset, each a pass over memory. These loops do each in one pass, read the
unpadded input directly (positions in the padding read as zero, or −inf for max pooling) and write contiguous
rows. 1-D inputs come as H = 1. Geometry arguments: kernel (kh, kw), stride (sh, sw), the low padding (ph, pw)
(the high padding is implied by the output size) and dilation (dh, dw).

Each loop adds or compares in the order of its NumPy reference, so the results are the same bits: col2im sums the
contributions to an element in kernel-offset order, as conv.col2im's slice additions do; max_pool takes the
first of tied maxima (and the first NaN), as argmax does.
"""

from __future__ import annotations

import numpy as np

from lamina.kernels import jit

_0 = np.float32(0)
_NEG_INF = np.float32(-np.inf)


@jit
def _span(n_out, step, offset, size):
    """The outputs q in [lo, hi) whose input index q·step + offset falls inside [0, size)."""
    lo = 0
    while lo < n_out and lo * step + offset < 0:
        lo += 1
    hi = n_out
    while hi > lo and (hi - 1) * step + offset >= size:
        hi -= 1
    return lo, hi


@jit
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, cols):
    """cols[c, i, j, n, p, q] ← x[n, c, p·sh − ph + i·dh, q·sw − pw + j·dw] (0 in the padding), as
    conv.columns(conv.windows(pad_zeros(x))) in conv.im2col; cols is (C, kh, kw, N, oh, ow)."""
    nb, nc, h, w = x.shape
    oh, ow = cols.shape[4], cols.shape[5]
    xf, cf = x.ravel(), cols.ravel()  # flat indices: no array view made per row
    at = 0  # the start of row (c, i, j, n, p) in cols
    for c in range(nc):
        for i in range(kh):
            for j in range(kw):
                off = j * dw - pw
                lo, hi = _span(ow, sw, off, w)
                for n in range(nb):
                    for p in range(oh):
                        r = p * sh - ph + i * dh
                        if r < 0 or r >= h:
                            for q in range(ow):
                                cf[at + q] = _0
                            at += ow
                            continue
                        src = ((n * nc + c) * h + r) * w + off
                        for q in range(lo):
                            cf[at + q] = _0
                        if sw == 1:  # contiguous slices: the copy vectorises
                            d, s = cf[at + lo:at + hi], xf[src + lo:src + hi]
                            for t in range(hi - lo):
                                d[t] = s[t]
                        else:
                            for q in range(lo, hi):
                                cf[at + q] = xf[src + q * sw]
                        for q in range(hi, ow):
                            cf[at + q] = _0
                        at += ow


@jit
def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """out[n, c, y, x] ← Σ cols[c, i, j, n, p, q] over the (i, j, p, q) with p·sh − ph + i·dh = y and
    q·sw − pw + j·dw = x, in kernel-offset order, as conv.col2im followed by conv.unpad; out is (N, C, H, W)."""
    nb, nc, h, w = out.shape
    oh, ow = cols.shape[4], cols.shape[5]
    out[:] = _0
    for c in range(nc):
        for i in range(kh):
            for j in range(kw):
                lo, hi = _span(ow, sw, j * dw - pw, w)
                for n in range(nb):
                    for p in range(oh):
                        r = p * sh - ph + i * dh
                        if r < 0 or r >= h:
                            continue
                        dst = out[n, c, r]
                        row = cols[c, i, j, n, p]
                        if sw == 1:  # contiguous slices: the additions vectorise
                            d, s = dst[lo - pw + j * dw:hi - pw + j * dw], row[lo:hi]
                            for t in range(hi - lo):
                                d[t] += s[t]
                        else:
                            for q in range(lo, hi):
                                dst[q * sw - pw + j * dw] += row[q]


@jit
def _max_pool_pass(x, kh, kw, sh, sw, ph, pw, dh, dw, y, arg, exact):
    """max_pool over flat indices, window by window, offsets in order. ``exact=False`` compares with ``>`` alone
    (right when x has no NaN); ``exact=True`` also takes a window's first NaN."""
    nb, nc, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    xf, yf, af = x.ravel(), y.ravel(), arg.ravel()
    o = 0
    for plane in range(nb * nc):
        base = plane * h * w
        for p in range(oh):
            r0 = p * sh - ph
            rows_inside = r0 >= 0 and r0 + (kh - 1) * dh < h
            for q in range(ow):
                c0 = q * sw - pw
                best = _NEG_INF
                at = 0
                if rows_inside and c0 >= 0 and c0 + (kw - 1) * dw < w:
                    start = base + r0 * w + c0
                    best = xf[start]
                    for i in range(kh):
                        for j in range(kw):
                            v = xf[start + i * dh * w + j * dw]
                            if exact:
                                take = (v > best) | ((v != v) & (best == best))
                            else:
                                take = v > best
                            best = v if take else best
                            at = i * kw + j if take else at
                else:  # a window that reaches into the padding: −inf there
                    for i in range(kh):
                        r = r0 + i * dh
                        for j in range(kw):
                            col = c0 + j * dw
                            v = xf[base + r * w + col] if 0 <= r < h and 0 <= col < w else _NEG_INF
                            if i == 0 and j == 0:
                                take = True
                            elif exact:
                                take = (v > best) | ((v != v) & (best == best))
                            else:
                                take = v > best
                            best = v if take else best
                            at = i * kw + j if take else at
                yf[o] = best
                af[o] = at
                o += 1


@jit
def _max_pool_2x2(x, sh, sw, y, arg, exact):
    """max_pool of undilated 2×2 windows that all lie inside x (no padding reached): the four reads unrolled and
    the NaN test hoisted out of the loops (several times quicker than the general pass). Returns the sum of the
    windows' elements when ``exact`` is False (not finite: a window may hold a NaN, run again with ``exact``)."""
    nb, nc, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    xf, yf, af = x.ravel(), y.ravel(), arg.ravel()
    total = _0
    o = 0
    for plane in range(nb * nc):
        for p in range(oh):
            r0 = plane * h * w + p * sh * w
            r1 = r0 + w
            if exact:
                for q in range(ow):
                    best = xf[r0 + q * sw]
                    at = 0
                    for k in range(1, 4):
                        v = xf[(r1 if k >= 2 else r0) + q * sw + (k & 1)]
                        take = (v > best) | ((v != v) & (best == best))
                        best = v if take else best
                        at = k if take else at
                    yf[o + q] = best
                    af[o + q] = at
            else:
                for q in range(ow):
                    a, b = xf[r0 + q * sw], xf[r0 + q * sw + 1]
                    c, d = xf[r1 + q * sw], xf[r1 + q * sw + 1]
                    total += (a + b) + (c + d)
                    best, at = a, 0
                    take = b > best
                    best, at = (b, 1) if take else (best, at)
                    take = c > best
                    best, at = (c, 2) if take else (best, at)
                    take = d > best
                    best, at = (d, 3) if take else (best, at)
                    yf[o + q] = best
                    af[o + q] = at
            o += ow
    return total


@jit
def _first_max(best, v):
    """v if it beats best, as argmax ranks them: greater, or the first NaN."""
    return v if (v > best) | ((v != v) & (best == best)) else best


@jit
def max_pool_2x2_values(x, y):
    """y ← the max of each 2×2 window of stride 2 (the window's first NaN if it has one), as max_pool's y for
    undilated windows inside x: the values alone, for inference (no argmax is kept), in a loop that vectorises (no
    position to select, no sum to carry); x (N, C, H, W), y (N, C, oh, ow) with 2·oh ≤ H, 2·ow ≤ W."""
    nb, nc, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    xf, yf = x.ravel(), y.ravel()
    for plane in range(nb * nc):
        for p in range(oh):
            top = xf[(plane * h + 2 * p) * w:(plane * h + 2 * p) * w + 2 * ow]
            low = xf[(plane * h + 2 * p + 1) * w:(plane * h + 2 * p + 1) * w + 2 * ow]
            dst = yf[(plane * oh + p) * ow:(plane * oh + p + 1) * ow]
            for q in range(ow):
                dst[q] = _first_max(_first_max(_first_max(top[2 * q], top[2 * q + 1]), low[2 * q]), low[2 * q + 1])


def max_pool(x, kh, kw, sh, sw, ph, pw, dh, dw, y, arg):
    """y ← the max of each window of x (−inf in the padding), arg ← the window position k = i·kw + j of its
    first maximum (of its first NaN if it has one), as pool.window_argmax; y and arg are (N, C, oh, ow).

    Selects instead of branches (comparisons of random data mispredict half the time), undilated 2×2 windows
    inside x in their own unrolled loop. NaN-aware comparisons cost five times as much, so they run only when x has
    a NaN (or infinities of both signs, or a sum that overflows): the sum of x tells, NumPy's vectorised one before
    the general pass, and for 2×2 windows the quick pass's own sum of what it read (one pass over x less), after
    which a window with a NaN is pooled again, exactly."""
    inside = (y.shape[2] - 1) * sh + 2 <= x.shape[2] and (y.shape[3] - 1) * sw + 2 <= x.shape[3]
    if (kh, kw, dh, dw, ph, pw) == (2, 2, 1, 1, 0, 0) and inside:
        if not np.isfinite(_max_pool_2x2(x, sh, sw, y, arg, False)):
            _max_pool_2x2(x, sh, sw, y, arg, True)
    else:
        _max_pool_pass(x, kh, kw, sh, sw, ph, pw, dh, dw, y, arg, not np.isfinite(np.add.reduce(x, axis=None)))


@jit
def max_pool_backward(g, arg, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """out ← each window's gradient added at its first maximum, as pool.MaxPool.backward's slice additions; out is
    (N, C, H, W), positions in the padding are dropped. Windows that do not overlap: one pass over the windows
    (each element gets at most one gradient). Overlapping ones: kernel offset by kernel offset, the reference's
    order of additions."""
    nb, nc, h, w = out.shape
    oh, ow = g.shape[2], g.shape[3]
    out[:] = _0
    if sh >= (kh - 1) * dh + 1 and sw >= (kw - 1) * dw + 1:
        of, gf, af = out.ravel(), g.ravel(), arg.ravel()
        o = 0
        for plane in range(nb * nc):
            base = plane * h * w
            for p in range(oh):
                for q in range(ow):
                    k = af[o]
                    r = p * sh - ph + (k // kw) * dh
                    col = q * sw - pw + (k % kw) * dw
                    if 0 <= r < h and 0 <= col < w:
                        of[base + r * w + col] += gf[o]
                    o += 1
        return
    for k in range(kh * kw):
        i, j = k // kw, k % kw
        for n in range(nb):
            for c in range(nc):
                for p in range(oh):
                    r = p * sh - ph + i * dh
                    if r < 0 or r >= h:
                        continue
                    for q in range(ow):
                        col = q * sw - pw + j * dw
                        if arg[n, c, p, q] == k and 0 <= col < w:
                            out[n, c, r, col] += g[n, c, p, q]


@jit
def conv_output(ym, b, y):
    """y[n, o, l] ← ym[o, n, l] (+ b[o] when b is not None): the GEMM's (O, N, L) result in (N, O, L) order, as
    conv._from_group and conv._add_bias."""
    no, nb, nl = ym.shape
    for n in range(nb):
        for o in range(no):
            src = ym[o, n]
            dst = y[n, o]
            if b is None:
                for l in range(nl):
                    dst[l] = src[l]
            else:
                bo = b[o]
                for l in range(nl):
                    dst[l] = src[l] + bo
