"""Kernels of the arithmetic in lamina/ops/arithmetic.py: small integer powers as products, in one pass."""

from __future__ import annotations

import numpy as np

from lamina.kernels import ufunc

_3, _4 = np.float32(3), np.float32(4)


@ufunc("float32(float32)")
def cube(a):
    """(a·a)·a, as arithmetic.PowScalar.forward for n = 3 (and PyTorch's pow(x, 3))"""
    return a * a * a


@ufunc("float32(float32, float32)")
def cube_backward(g, a):
    """g·(3·(a·a)), as arithmetic.PowScalar.backward for n = 3"""
    return g * (_3 * (a * a))


@ufunc("float32(float32)")
def fourth(a):
    """(a·a)·(a·a), as arithmetic.PowScalar.forward for n = 4"""
    sq = a * a
    return sq * sq


@ufunc("float32(float32, float32)")
def fourth_backward(g, a):
    """g·(4·((a·a)·a)), as arithmetic.PowScalar.backward for n = 4"""
    return g * (_4 * (a * a * a))
