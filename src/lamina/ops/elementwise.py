"""More element-wise math, as PyTorch names it: trigonometric and hyperbolic functions and their inverses, logs and
exponentials in other bases, erf, the reciprocal; and three of two arguments (atan2, logaddexp, lerp).
Each is z ↦ f(z) with backward g ↦ g·f'(z)."""

from __future__ import annotations

import math

import numpy as np

from lamina.autograd.function import Function
from lamina.ops.unary import _float, erf

_LN2, _LN10 = math.log(2), math.log(10)


class _SavesInput(Function):
    """z ↦ f(z), keeping z for a backward that needs it."""

    f = None

    def forward(self, z):
        z = _float(z)
        self.save(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            return type(self).f(z)


class Tan(Function):
    """d/dz tan z = 1 + tan² z"""

    def forward(self, z):
        out = np.tan(_float(z))
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (1 + out * out)


class Asin(_SavesInput):
    """d/dz asin z = 1/√(1 − z²)"""

    f = np.arcsin

    def backward(self, g):
        (z,) = self.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / np.sqrt(1 - z * z)


class Acos(_SavesInput):
    """d/dz acos z = −1/√(1 − z²)"""

    f = np.arccos

    def backward(self, g):
        (z,) = self.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return -g / np.sqrt(1 - z * z)


class Atan(_SavesInput):
    """d/dz atan z = 1/(1 + z²)"""

    f = np.arctan

    def backward(self, g):
        (z,) = self.saved
        return g / (1 + z * z)


class Sinh(_SavesInput):
    """d/dz sinh z = cosh z"""

    f = np.sinh

    def backward(self, g):
        (z,) = self.saved
        return g * np.cosh(z)


class Cosh(_SavesInput):
    """d/dz cosh z = sinh z"""

    f = np.cosh

    def backward(self, g):
        (z,) = self.saved
        return g * np.sinh(z)


class Asinh(_SavesInput):
    """d/dz asinh z = 1/√(z² + 1)"""

    f = np.arcsinh

    def backward(self, g):
        (z,) = self.saved
        return g / np.sqrt(z * z + 1)


class Acosh(_SavesInput):
    """d/dz acosh z = 1/√(z² − 1)"""

    f = np.arccosh

    def backward(self, g):
        (z,) = self.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / np.sqrt(z * z - 1)


class Atanh(_SavesInput):
    """d/dz atanh z = 1/(1 − z²)"""

    f = np.arctanh

    def backward(self, g):
        (z,) = self.saved
        with np.errstate(divide="ignore"):
            return g / (1 - z * z)


class Reciprocal(Function):
    """d/dz 1/z = −1/z²"""

    def forward(self, z):
        with np.errstate(divide="ignore"):
            out = np.reciprocal(_float(z))
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return -g * out * out


class Log2(_SavesInput):
    """d/dz log₂ z = 1/(z·ln 2)"""

    f = np.log2

    def backward(self, g):
        (z,) = self.saved
        return g / (z * _LN2)


class Log10(_SavesInput):
    """d/dz log₁₀ z = 1/(z·ln 10)"""

    f = np.log10

    def backward(self, g):
        (z,) = self.saved
        return g / (z * _LN10)


class Exp2(Function):
    """d/dz 2ᶻ = 2ᶻ·ln 2"""

    def forward(self, z):
        out = np.exp2(_float(z))
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * out * _LN2


class Expm1(Function):
    """d/dz (eᶻ − 1) = eᶻ"""

    def forward(self, z):
        out = np.expm1(_float(z))
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (out + 1)


class Erf(_SavesInput):
    """d/dz erf z = (2/√π)·e^(−z²)"""

    f = staticmethod(erf)

    def backward(self, g):
        (z,) = self.saved
        return g * (2 / math.sqrt(math.pi)) * np.exp(-z * z)


class Atan2(Function):
    """atan2(a, b), the angle of (b, a): d/da = b/(a² + b²), d/db = −a/(a² + b²)"""

    def forward(self, a, b):
        self.save(a, b)
        return np.arctan2(_float(a), b)

    def backward(self, g):
        a, b = self.saved
        r = a * a + b * b
        return (g * b / r if self.needs[0] else None), (-g * a / r if self.needs[1] else None)


class LogAddExp(Function):
    """log(eᵃ + eᵇ): d/da = σ(a − b), d/db = σ(b − a)"""

    def forward(self, a, b):
        out = np.logaddexp(_float(a), b)
        self.save(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        return (g * np.exp(a - out) if self.needs[0] else None), (g * np.exp(b - out) if self.needs[1] else None)


class Lerp(Function):
    """a + w·(b − a): d/da = 1 − w, d/db = w, d/dw = b − a"""

    def forward(self, a, b, w):
        self.save(a, b, w)
        return a + w * (b - a)

    def backward(self, g):
        a, b, w = self.saved
        return ((g * (1 - w) if self.needs[0] else None), (g * w if self.needs[1] else None),
                (g * (b - a) if self.needs[2] else None))


class Erfinv(Function):
    """y = erf⁻¹(x) on (−1, 1): d/dx = (√π/2)·e^(y²)"""

    def forward(self, x):
        x = _float(x)
        w = -np.log(np.maximum((1.0 - x.astype(np.float64)) * (1.0 + x), 1e-300))
        y = np.where(w < 5, _giles_central(w - 2.5) * x, _giles_tail(np.sqrt(np.maximum(w, 5)) - 3) * x)
        for _ in range(2):  # Newton on erf(y) = x (erf' = 2/√π e^(−y²)) polishes the approximation
            y = y - (erf(y) - x) / (2 / math.sqrt(math.pi) * np.exp(-y * y))
        with np.errstate(invalid="ignore"):
            y = np.where(np.abs(x) == 1, np.copysign(np.inf, x), np.where(np.abs(x) > 1, np.nan, y))
        out = y.astype(x.dtype)
        self.save(out)
        return out

    def backward(self, g):
        (y,) = self.saved
        return g * (math.sqrt(math.pi) / 2) * np.exp(y.astype(np.float64) ** 2).astype(g.dtype)


def _polynomial(coefficients, w):
    p = np.full_like(w, coefficients[0])
    for c in coefficients[1:]:
        p = p * w + c
    return p


def _giles_central(w):  # M. Giles, "Approximating the erfinv function" (2010), single precision, |x| ≲ 0.9999
    return _polynomial([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                        -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], w)


def _giles_tail(w):
    return _polynomial([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                        -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], w)
