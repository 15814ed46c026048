"""Kernel of the dropout in lamina/ops/dropout.py for large float32 inputs: the mask's random numbers, the mask and
x·mask in one pass.

The random number of element i is ``ops.dropout.hash_uniform``'s: a 32-bit integer hash of (i, key), the key two
32-bit draws from the generator per call, so that the numbers of a call are made independently of each other (and
vectorised) instead of one generator step each. The arithmetic is the NumPy reference's, uint32 wrapping, so the
masks are the same bit for bit.
"""

from __future__ import annotations

import numpy as np

from lamina.kernels import jit

_U = np.uint32
_GOLDEN, _MUL1, _MUL2 = _U(0x9E3779B9), _U(0x21F0AAAD), _U(0x735A2D97)
_S15, _S16 = _U(15), _U(16)


@jit
def _mix(v):
    """ops.dropout._mix: xor-shift, multiply, xor-shift, multiply, xor-shift, in uint32."""
    v = _U(v ^ (v >> _S16))
    v = _U(v * _MUL1)
    v = _U(v ^ (v >> _S15))
    v = _U(v * _MUL2)
    return _U(v ^ (v >> _S15))


@jit
def dropout(x, key0, key1, threshold, scale, out, mask):
    """ops.dropout.Dropout.forward for a C-contiguous float32 x of fewer than 2³² elements:
    u_i = mix(mix(i·φ + key0) + key1) (mod 2³²), the mask ``scale`` where u_i ≥ threshold and 0 elsewhere,
    out = x·mask."""
    x, out, mask = x.reshape(x.size), out.reshape(out.size), mask.reshape(mask.size)
    k0, k1, t = _U(key0), _U(key1), _U(threshold)
    zero = np.float32(0)
    for i in range(x.size):
        u = _mix(_U(_mix(_U(_U(i) * _GOLDEN + k0)) + k1))
        m = scale if u >= t else zero
        mask[i] = m
        out[i] = x[i] * m
