"""Kernels of the activations in lamina/ops/unary.py: each the op's NumPy formula in one compiled pass."""

from __future__ import annotations

import math

import numpy as np
from numba import types  # this module is loaded by the first kernel call, with numba
from numba.extending import intrinsic

from lamina.kernels import jit, ufunc
from lamina.kernels.unary_fits import ERFC_T_SCALE, ERFCX_COEFFICIENTS

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


def relu(z, out=None):
    out = np.empty_like(z) if out is None else out
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
    """(gelu(z), gelu'(z)) for float32 z, both in one pass: the forward saves the derivative for its backward."""
    out, grad = np.empty_like(z), np.empty_like(z)
    _gelu(z, out, grad)
    return out, grad


@intrinsic
def _as_float32(typingctx, bits):
    """The float32 whose bits are the int32 ``bits`` (a reinterpretation; it compiles to nothing)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))
    return types.float32(types.int32), codegen


@intrinsic
def _as_int32(typingctx, x):
    """The bits of the float32 ``x`` as an int32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))
    return types.int32(types.float32), codegen


_f32 = np.float32
_ERFCX = tuple(_f32(c) for c in ERFCX_COEFFICIENTS)
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10 = _ERFCX
# e^r on |r| ≤ 0.46 to 1.4e-8 (a least-squares fit in Chebyshev points, weighted for relative error)
_X0, _X1, _X2, _X3, _X4, _X5, _X6 = (_f32(c) for c in (1.0000000056099256, 1.000000191474735, 0.4999995384951855,
                                                        0.16665914500156181, 0.04167189670441413,
                                                        0.008405981030601792, 0.0013784281508106091))
_HALF, _K, _TWENTY, _LOW = _f32(0.5), _f32(ERFC_T_SCALE), _f32(20), _f32(-150)
_LOG2E, _ROUND = _f32(1.4426950408889634), _f32(12582912)  # 1.5·2²³: adding it rounds to an integer
_LN2_HI = _f32(0.693145751953125)  # ln 2 in 16 bits: n·_LN2_HI is exact for the |n| ≤ 217 used here
_LN2_LO = _f32(0.6931471805599453 - 0.693145751953125)
_KEEP_12_BITS = np.int32(-4096)  # 0xFFFFF000: a float32 with the low 12 of its 23 fraction bits cleared
_RSQRT2PI = _f32(0.3989422804014327)


@jit
def _gaussian(z):
    """(e^(−z²/2), ½·erfc(|z|/√2)) in float32 arithmetic alone (no call, so the loop vectorises), accurate to a
    few float32 ulps relative however small they are. e^(−z²/2): z = hi + lo with hi of 12 bits, so hi² and
    −hi²/2 = n·ln 2 + r are exact; the small rest −lo·(hi + lo/2) joins r; 2ⁿ is built from its exponent bits
    (in two halves, so that 2⁻¹⁵⁰ is still two normal numbers). erfc: e^(−z²/2)·t·P(t), t = 1/(1 + K·|z|)."""
    z = min(abs(z), _TWENTY)  # both are 0 in float32 beyond 20; inf stays finite in here
    hi = _as_float32(_as_int32(z) & _KEEP_12_BITS)
    lo = z - hi
    a = max(-_HALF * (hi * hi), _LOW)
    n = (a * _LOG2E + _ROUND) - _ROUND
    r = (a - n * _LN2_HI) - n * _LN2_LO - lo * (hi + _HALF * lo)
    p = _X0 + r * (_X1 + r * (_X2 + r * (_X3 + r * (_X4 + r * (_X5 + r * _X6)))))
    k = np.int32(n)
    half_k = k >> 1
    e = p * _as_float32((half_k + 127) << 23) * _as_float32((k - half_k + 127) << 23)
    t = _1 / (_1 + _K * z)
    q = _E0 + t * (_E1 + t * (_E2 + t * (_E3 + t * (_E4 + t * (_E5 + t * (_E6 + t * (_E7 + t * (
        _E8 + t * (_E9 + t * _E10)))))))))
    return e, (_HALF * t) * q * e


@jit
def _gelu(z, out, grad):
    """z·Φ(z) and Φ(z) + z·φ(z), as unary.GELU.forward and unary.normal_cdf_pdf (exact form): Φ(z) = ½·erfc(|z|/√2)
    for z ≤ 0 and 1 − ½·erfc(|z|/√2) above, φ(z) = e^(−z²/2)/√(2π)"""
    z, out, grad = z.reshape(z.size), out.reshape(out.size), grad.reshape(grad.size)
    for i in range(z.size):
        x = z[i]
        e, half_erfc = _gaussian(x)
        cdf = _1 - half_erfc if x > _0 else half_erfc
        out[i] = x * cdf
        grad[i] = cdf + x * (e * _RSQRT2PI)
