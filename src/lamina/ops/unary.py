"""Element-wise math and activation functions: z ↦ f(z), backward g ↦ g·f'(z)."""

from __future__ import annotations

import math

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function
from lamina.kernels.unary_fits import ERFC_T_SCALE, ERFCX_COEFFICIENTS
from lamina.ops import scratch
from lamina.tensor import Tensor


def _float(a):
    return a if a.dtype.kind == "f" else a.astype(np.float32)


class Exp(Function):
    """d/dz eᶻ = eᶻ"""

    def forward(self, z):
        out = np.exp(_float(z))
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * out


class Log(Function):
    """d/dz ln z = 1/z"""

    def forward(self, z):
        z = _float(z)
        self.save(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(z)

    def backward(self, g):
        (z,) = self.saved
        return g / z


class Log1p(Function):
    """d/dz ln(1 + z) = 1/(1 + z)"""

    def forward(self, z):
        z = _float(z)
        self.save(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(z)

    def backward(self, g):
        (z,) = self.saved
        return g / (1 + z)


class Sqrt(Function):
    """d/dz √z = 1/(2√z)"""

    def forward(self, z):
        with np.errstate(invalid="ignore"):
            out = np.sqrt(_float(z))
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        with np.errstate(divide="ignore"):
            return g / (2 * out)


class Abs(Function):
    """d/dz |z| = sign(z) (0 at 0, as PyTorch)"""

    def forward(self, z):
        self.save(z)
        return np.abs(z)

    def backward(self, g):
        (z,) = self.saved
        return g * np.sign(z)


class Sin(Function):
    """d/dz sin z = cos z"""

    def forward(self, z):
        z = _float(z)
        self.save(z)
        return np.sin(z)

    def backward(self, g):
        (z,) = self.saved
        return g * np.cos(z)


class Cos(Function):
    """d/dz cos z = −sin z"""

    def forward(self, z):
        z = _float(z)
        self.save(z)
        return np.cos(z)

    def backward(self, g):
        (z,) = self.saved
        return -g * np.sin(z)


class Tanh(Function):
    """d/dz tanh z = 1 − a², a = tanh z"""

    def forward(self, z):
        a = np.tanh(_float(z))
        self.save(a)
        return a

    def backward(self, g):
        (a,) = self.saved
        if kernels.fits(g, a):
            return kernels.tanh_backward(g, a)  # the same in one pass
        return g * (1 - a * a)


def sigmoid_array(z):
    """σ(z) = 1/(1 + e⁻ᶻ); e⁻ᶻ is capped below overflow (σ is 0 to float precision there anyway)."""
    z = _float(z)
    t = np.negative(z, out=np.empty(z.shape, z.dtype))  # out=: a 0-d input stays an array
    np.minimum(t, 88.0 if t.dtype.itemsize <= 4 else 709.0, out=t)
    np.exp(t, out=t)
    t += 1
    return np.reciprocal(t, out=t)


class Sigmoid(Function):
    """d/dz σ(z) = a·(1 − a), a = σ(z)"""

    def forward(self, z):
        a = kernels.sigmoid(z) if kernels.fits_small(z) else sigmoid_array(z)
        self.save(a)
        return a

    def backward(self, g):
        (a,) = self.saved
        if kernels.fits(g, a):
            return kernels.sigmoid_backward(g, a)  # the same in one pass
        return g * a * (1 - a)


class ReLU(Function):
    """d/dz max(0, z) = 1 if z > 0 else 0"""

    def forward(self, z):
        if self.recording:
            a = kernels.relu(z) if kernels.fits(z) else np.maximum(z, 0)
            self.save(a)
            return a
        a = scratch.result(z.shape, z.dtype)  # inference: a large result in a reused buffer (no fresh pages)
        return kernels.relu(z, a) if kernels.fits(z) else np.maximum(z, 0, out=a)

    def backward(self, g):
        (a,) = self.saved
        if kernels.fits(g, a):
            return kernels.relu_backward(g, a)  # the same in one pass
        return g * (a > 0)


class LeakyReLU(Function):
    """d/dz leaky_relu(z) = 1 if z > 0 else slope"""

    def forward(self, z, slope):
        self.save(z)
        self.slope = slope
        return np.where(z > 0, z, z * np.asarray(slope, z.dtype))

    def backward(self, g):
        (z,) = self.saved
        return np.where(z > 0, g, g * np.asarray(self.slope, g.dtype))


class ELU(Function):
    """d/dz elu(z) = 1 if z > 0 else α·eᶻ"""

    def forward(self, z, alpha):
        self.save(z)
        self.alpha = alpha
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))).astype(z.dtype, copy=False)

    def backward(self, g):
        (z,) = self.saved
        return np.where(z > 0, g, g * (self.alpha * np.exp(np.minimum(z, 0)))).astype(g.dtype, copy=False)


class SiLU(Function):
    """d/dz z·σ(z) = σ(z)·(1 + z·(1 − σ(z)))"""

    def forward(self, z):
        s = sigmoid_array(z)
        self.save(z, s)
        return z * s

    def backward(self, g):
        z, s = self.saved
        return g * s * (1 + z * (1 - s))


class Softplus(Function):
    """d/dz (1/β)·ln(1 + e^(βz)) = σ(βz); where βz > threshold it is z itself, with derivative 1 (as PyTorch)"""

    def forward(self, z, beta, threshold):
        self.save(z)
        self.beta, self.threshold = beta, threshold
        bz = z * beta
        soft = np.logaddexp(0, bz).astype(z.dtype, copy=False) / beta
        return np.where(bz > threshold, z, soft)

    def backward(self, g):
        (z,) = self.saved
        bz = z * self.beta
        return np.where(bz > self.threshold, g, g * sigmoid_array(bz))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


class GELU(Function):
    """gelu(z) = z·Φ(z); d/dz = Φ(z) + z·φ(z)  (approximate='tanh' uses the tanh form)"""

    def forward(self, z, approximate):
        self.approximate = approximate
        if approximate == "tanh":
            self.save(z)
            return 0.5 * z * (1 + np.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3)))
        if kernels.fits(z):
            out, grad = kernels.gelu(z)  # the same in one float32 pass, which also gives the derivative
        else:
            cdf, pdf = normal_cdf_pdf(z)
            with np.errstate(invalid="ignore"):  # ±inf·0: NaN, as the kernel and PyTorch give it, silently
                out, grad = z * cdf, cdf + z * pdf
        self.save(grad)
        return out

    def backward(self, g):
        if self.approximate == "tanh":
            (z,) = self.saved
            inner = _SQRT_2_OVER_PI * (z + 0.044715 * z**3)
            t = np.tanh(inner)
            dinner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z**2)
            return g * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * dinner)
        (grad,) = self.saved
        return g * grad


def normal_cdf_pdf(z):
    """(Φ(z), φ(z)), the standard normal's distribution and density, in z's float dtype, each accurate relative to
    its own size (also far in the tails, where 1 + erf(z/√2) would cancel): Φ(z) = ½·erfc(|z|/√2) for z ≤ 0 and
    1 − ½·erfc(|z|/√2) above, with erfc(|z|/√2) = e^(−z²/2)·t·P(t), t = 1/(1 + K·|z|) (kernels.unary_fits);
    φ(z) = e^(−z²/2)/√(2π). Computed in float64; |z| is capped at 20, where both are 0 in float32."""
    dtype = z.dtype if z.dtype.kind == "f" else np.float32
    az = np.minimum(np.abs(z.astype(np.float64)), 20.0)
    e = np.exp(-0.5 * az * az)
    t = 1.0 / (1.0 + ERFC_T_SCALE * az)
    half_erfc = 0.5 * t * np.polynomial.polynomial.polyval(t, ERFCX_COEFFICIENTS) * e
    cdf = np.where(z > 0, 1.0 - half_erfc, half_erfc)
    pdf = e * (1 / math.sqrt(2 * math.pi))  # in float32 0 from |z| ≈ 14 on: inf·φ(inf) is NaN, as PyTorch's
    return cdf.astype(dtype), pdf.astype(dtype)


def erf(x):
    """The error function, element-wise, to float32/float64 precision.

    NumPy has no erf; this is W. J. Cody's rational approximation as used by many libms
    (max relative error ~1e-7 in float32 use), written with array operations only.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    a = np.abs(x).astype(np.float64)
    # erfc(a) = t·exp(−a² + P(t)), t = 1/(1 + a/2)  (Numerical Recipes erfc, fractional error < 1.2e-7)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(-a * a + poly)
    return (np.sign(x) * (1.0 - erfc)).astype(dtype, copy=False)


class Step(Function):
    """round / floor / ceil / trunc / sign: piecewise constant, so d/dx = 0 (as PyTorch)"""

    def forward(self, x, fn):
        return fn(x)

    def backward(self, g):
        return np.zeros_like(g)


class Clamp(Function):
    """d/dz clamp(z, lo, hi) = 1 inside [lo, hi], else 0"""

    def forward(self, z, lo, hi):
        self.save(z)
        self.lo, self.hi = lo, hi
        return np.clip(z, lo, hi)

    def backward(self, g):
        (z,) = self.saved
        inside = np.ones(z.shape, dtype=bool)
        if self.lo is not None:
            inside &= z >= self.lo
        if self.hi is not None:
            inside &= z <= self.hi
        return g * inside


def clamp(z: Tensor, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(z, min, max)
