"""exp, σ and tanh for float32 in arithmetic alone, so that a loop calling them vectorises.

numba compiles ``math.exp`` and ``math.tanh`` to calls into libm, one element at a time (this machine's llvmlite
has no SVML, the vector math library that would replace them), so a loop over them runs at a fraction of NumPy's
vectorised ufuncs. These functions have no call: exp splits x = n·ln 2 + r (|r| ≤ ln 2/2, ln 2 in two parts so
n·ln 2 is exact), evaluates e^r by the polynomial ``unary._gaussian`` uses (a fit to 1.4e-8 on |r| ≤ 0.46) and
builds 2ⁿ from its exponent bits; tanh is an odd polynomial below 0.625 (fitted here, below) and
1 − 2/(e^{2|z|} + 1) above, with z's sign. Both are accurate to a few float32 ulps relative, against NumPy's
(tests/kernels/test_vecmath.py checks them on a dense grid, the tails and inf and NaN).

The NumPy formulas they stand for: σ(z) = 1/(1 + e^min(−z, 88)) (``unary.sigmoid_array``), np.tanh, np.exp.
"""

from __future__ import annotations

import math

import numpy as np

from lamina.kernels import jit
from lamina.kernels.unary import _X0, _X1, _X2, _X3, _X4, _X5, _X6, _as_float32

# fused multiply-adds halve the polynomials' latency; no reassociation, which would undo the rounding tricks (the flag
# stays on these instructions where a kernel inlines them)
_FAST = {"contract"}


_f32 = np.float32
_1, _2, _88 = _f32(1), _f32(2), _f32(88)
_LOW, _HIGH = _f32(-104), _f32(89)  # e^x rounds to 0 in float32 below −103.98 and overflows above 88.73
_LOG2E, _ROUND = _f32(1.4426950408889634), _f32(12582912)  # 1.5·2²³: adding it rounds to an integer
_LN2_HI = _f32(0.693145751953125)  # ln 2 in 16 bits: n·_LN2_HI is exact for |n| ≤ 128
_LN2_LO = _f32(0.6931471805599453 - 0.693145751953125)
_TANH_SMALL, _TANH_CLAMP = _f32(0.625), _f32(44)  # tanh's polynomial range; tanh(44) rounds to 1
# tanh(z) = z + z³·Q(z²) on |z| ≤ 0.625: weighted least-squares fit of Q at 20,000 Chebyshev points of z² (the
# weight makes the error relative to tanh); its relative error is 4.5e-9 before float32 rounding
_T0, _T1, _T2, _T3, _T4 = (_f32(c) for c in (-0.3333328128411303, 0.13331431753507272, -0.053739156503492605,
                                             0.02063786148878538, -0.005704042524498007))


@jit(fastmath=_FAST)
def exp32(x):
    """e^x for a float32 x, as np.exp: 0 far below, subnormal results near −100, inf above 88.73, NaN stays NaN
    (2ⁿ is built in two halves, so that each is a normal float32 for every n of the clamped range)."""
    x = min(max(x, _LOW), _HIGH)
    n = (x * _LOG2E + _ROUND) - _ROUND
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = _X0 + r * (_X1 + r * (_X2 + r * (_X3 + r * (_X4 + r * (_X5 + r * _X6)))))
    k = np.int32(n)
    half_k = k >> 1
    return p * _as_float32((half_k + 127) << 23) * _as_float32((k - half_k + 127) << 23)


@jit(fastmath=_FAST)
def sigmoid32(z):
    """1/(1 + e^min(−z, 88)), as unary.sigmoid_array."""
    return _1 / (exp32(min(-z, _88)) + _1)


@jit(fastmath=_FAST)
def tanh32(z):
    """tanh(z) for a float32 z."""
    a = min(abs(z), _TANH_CLAMP)
    u = a * a
    small = a + a * u * (_T0 + u * (_T1 + u * (_T2 + u * (_T3 + u * _T4))))
    large = _1 - _2 / (exp32(a + a) + _1)
    t = small if a < _TANH_SMALL else large
    return math.copysign(t, z)  # −0 stays −0
