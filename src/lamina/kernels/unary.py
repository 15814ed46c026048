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


@jit
def _gelu(z, out):
    """z·Φ(z) = ½·z·(1 + erf(z/√2)), as unary.GELU.forward (exact form)"""
    z, out = z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        out[i] = np.float32(0.5) * z[i] * (_1 + np.float32(math.erf(z[i] * np.float32(0.7071067811865476))))


def gelu_backward(g, z):
    out = np.empty_like(z)
    _gelu_backward(g, z, out)
    return out


@jit
def _gelu_backward(g, z, out):
    """g·(Φ(z) + z·φ(z)), as unary.GELU.backward (exact form)"""
    g, z, out = g.reshape(g.size), z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        cdf = np.float32(0.5) * (_1 + np.float32(math.erf(z[i] * np.float32(0.7071067811865476))))
        pdf = np.float32(math.exp(np.float32(-0.5) * z[i] * z[i])) * np.float32(0.3989422804014327)
        out[i] = g[i] * (cdf + z[i] * pdf)
