"""Kernels of the losses in lamina/ops/loss.py: binary cross-entropy element-wise, cross-entropy on class indices
row by row (one call for the loss and one for its gradient, where the NumPy reference needs about fifteen)."""

from __future__ import annotations

import math

import numpy as np

from lamina.kernels import jit

_1, _M100, _EPS = np.float32(1), np.float32(-100), np.float32(1e-12)


def binary_cross_entropy(x, y):
    out = np.empty_like(x)
    _binary_cross_entropy(x, y, out)
    return out


@jit
def _binary_cross_entropy(x, y, out):
    """−(y·max(log x, −100) + (1 − y)·max(log(1 − x), −100)), as loss.BinaryCrossEntropy (NaN outside [0, 1])"""
    x, y, out = x.reshape(x.size), y.reshape(y.size), out.reshape(out.size)
    for i in range(x.size):
        log_x = max(math.log(x[i]), _M100)  # log 0 = −inf and max(NaN, −100) = NaN in compiled code
        log_1mx = max(math.log1p(-x[i]), _M100)
        out[i] = -((log_x - log_1mx) * y[i] + log_1mx)


def binary_cross_entropy_backward(x, y, scale):
    out = np.empty_like(x)
    _binary_cross_entropy_backward(x, y, scale, out)
    return out


@jit
def _binary_cross_entropy_backward(x, y, scale, out):
    """scale·(x − y)/max(x·(1 − x), 1e-12), as loss.BinaryCrossEntropy.backward (scale: the gradient reaching
    every element, a float32 scalar)"""
    x, y, out = x.reshape(x.size), y.reshape(y.size), out.reshape(out.size)
    for i in range(x.size):
        out[i] = scale * (x[i] - y[i]) / max(x[i] * (_1 - x[i]), _EPS)


@jit
def cross_entropy(z, target, ignore_index, logp):
    """logp ← log_softmax of each row of z, as reduce.log_softmax_array; returns (−Σ logp[i, tᵢ], number of rows)
    over the rows with tᵢ ≠ ignore_index, as loss.CrossEntropy.forward"""
    n, c = z.shape
    total, kept = 0.0, 0
    for i in range(n):
        m = z[i, 0]
        for j in range(1, c):
            m = max(m, z[i, j])
        s = 0.0
        for j in range(c):
            s += math.exp(z[i, j] - m)
        log_sum = np.float32(math.log(s))
        for j in range(c):
            logp[i, j] = (z[i, j] - m) - log_sum
        t = target[i]
        if t != ignore_index:
            if not 0 <= t < c:  # compiled code does not check indices; the callers have, this is a backstop
                raise IndexError("cross_entropy: a target class index is out of range")
            total -= logp[i, t]
            kept += 1
    return total, kept


@jit
def cross_entropy_backward(logp, target, ignore_index, scale, out):
    """out ← scale·(softmax − one-hot) on each row with tᵢ ≠ ignore_index, 0 on the others, as
    loss.CrossEntropy.backward"""
    n, c = logp.shape
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            out[i, :] = 0
            continue
        for j in range(c):
            out[i, j] = math.exp(logp[i, j]) * scale
        out[i, t] -= scale
