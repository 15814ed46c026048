"""Kernels of the activations in lamina/ops/unary.py: each the op's NumPy formula in one compiled pass."""

from __future__ import annotations

import math

import numpy as np

from lamina.kernels import jit, ufunc

# float32 constants: numba then keeps each operation in float32, as NumPy does on float32 arrays
_0, _1, _88 = np.float32(0), np.float32(1), np.float32(88)


def sigmoid(z):
    out = np.empty_like(z)
    _sigmoid(z, out)
    return out


@jit
def _sigmoid(z, out):
    """σ(z) = 1/(1 + e^min(−z, 88)), as unary.sigmoid_array"""
    z, out = z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        out[i] = _1 / (math.exp(min(-z[i], _88)) + _1)


@ufunc("float32(float32, float32)")
def sigmoid_backward(g, a):
    """g·a·(1 − a), as unary.Sigmoid.backward"""
    return g * a * (_1 - a)


@ufunc("float32(float32, float32)")
def tanh_backward(g, a):
    """g·(1 − a²), as unary.Tanh.backward"""
    return g * (_1 - a * a)


def relu(z):
    out = np.empty_like(z)
    _relu(z, out)
    return out


@jit
def _relu(z, out):
    """max(z, 0), as unary.ReLU.forward (np.maximum: NaN stays NaN, −0 becomes 0)"""
    z, out = z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        v = z[i]
        out[i] = v if v > _0 or v != v else _0


def relu_backward(g, a):
    out = np.empty_like(g)
    _relu_backward(g, a, out)
    return out


@jit
def _relu_backward(g, a, out):
    """g where a > 0, else g·0, as unary.ReLU.backward (g·(a > 0): g·0 keeps NaN and the sign of zero)"""
    g, a, out = g.reshape(g.size), a.reshape(a.size), out.reshape(out.size)
    for i in range(a.size):
        out[i] = g[i] if a[i] > _0 else g[i] * _0


def gelu(z):
    out = np.empty_like(z)
    _gelu(z, out)
    return out


# erf in float32 without exp: a rational minimax fit erf(a) ≈ a·P(a²)/Q(a²) on |a| ≤ 4 (erf is ±1 to float32
# precision beyond), accurate to a few float32 ulps, with only multiplications and one division.
_P = tuple(np.float32(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                                   -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                                   -1.60960333262415e-02))
_Q = tuple(np.float32(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                                   -7.37332916720468e-03, -1.42647390514189e-02))
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _P
_Q0, _Q1, _Q2, _Q3, _Q4 = _Q
_FOUR, _HALF, _RSQRT2, _RSQRT2PI = np.float32(4), np.float32(0.5), np.float32(0.7071067811865476), \
    np.float32(0.3989422804014327)


@jit
def _erf32(x):
    """erf(x) by the rational fit above (NaN stays NaN). Where 1 + erf(x) nearly cancels (x < −1) its absolute
    error would become a large relative one in GELU's tail: there math.erf (accurate, but a call per element)."""
    if x < -_1:
        return np.float32(math.erf(x))
    a = min(x, _FOUR) if x == x else x
    a2 = a * a
    p = ((((((_P0 * a2 + _P1) * a2 + _P2) * a2 + _P3) * a2 + _P4) * a2 + _P5) * a2 + _P6) * a
    q = (((_Q0 * a2 + _Q1) * a2 + _Q2) * a2 + _Q3) * a2 + _Q4
    return p / q


@jit
def _gelu(z, out):
    """z·Φ(z) = ½·z·(1 + erf(z/√2)), as unary.GELU.forward (exact form)"""
    z, out = z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        out[i] = _HALF * z[i] * (_1 + _erf32(z[i] * _RSQRT2))


def gelu_backward(g, z):
    out = np.empty_like(z)
    _gelu_backward(g, z, out)
    return out


@jit
def _gelu_backward(g, z, out):
    """g·(Φ(z) + z·φ(z)), as unary.GELU.backward (exact form)"""
    g, z, out = g.reshape(g.size), z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        cdf = _HALF * (_1 + _erf32(z[i] * _RSQRT2))
        pdf = np.float32(math.exp(-_HALF * z[i] * z[i])) * _RSQRT2PI
        out[i] = g[i] * (cdf + z[i] * pdf)
