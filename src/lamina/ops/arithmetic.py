"""Element-wise arithmetic with NumPy broadcasting (the engine sums gradients back to each input's shape)."""

from __future__ import annotations

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function
from lamina.tensor import Tensor, from_numpy


class Add(Function):
    """d(a + b)/da = 1, d(a + b)/db = 1"""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    """d(a − b)/da = 1, d(a − b)/db = −1"""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs[1] else None)


class Mul(Function):
    """d(a·b)/da = b, d(a·b)/db = a"""

    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return (g * b if self.needs[0] else None), (g * a if self.needs[1] else None)


class Div(Function):
    """d(a/b)/da = 1/b, d(a/b)/db = −a/b²"""

    def forward(self, a, b):
        self.save(a, b)
        return np.true_divide(a, b)

    def backward(self, g):
        a, b = self.saved
        ga = g / b if self.needs[0] else None
        gb = -g * a / (b * b) if self.needs[1] else None
        return ga, gb


class Remainder(Function):
    """a mod b with the divisor's sign (Python's %, torch.remainder): d/da = 1, d/db = −⌊a/b⌋"""

    def forward(self, a, b):
        self.save(a, b)
        return np.remainder(a, b)

    def backward(self, g):
        a, b = self.saved
        return (g if self.needs[0] else None), (-g * np.floor_divide(a, b) if self.needs[1] else None)


class Fmod(Function):
    """a mod b with the dividend's sign (C's fmod, torch.fmod): d/da = 1, d/db = −trunc(a/b)"""

    def forward(self, a, b):
        self.save(a, b)
        return np.fmod(a, b)

    def backward(self, g):
        a, b = self.saved
        return (g if self.needs[0] else None), (-g * np.trunc(a / b) if self.needs[1] else None)


class RoundedDiv(Function):
    """a / b rounded down ('floor') or toward zero ('trunc'): piecewise constant, so both gradients are 0 (as
    PyTorch's div with a rounding_mode); integers stay integers"""

    def forward(self, a, b, mode):
        if mode == "floor":
            return np.floor_divide(a, b)
        out = np.true_divide(a, b)
        return np.trunc(out).astype(np.result_type(a, b), copy=False) if np.result_type(a, b).kind in "iu" else \
            np.trunc(out)

    def backward(self, g):
        return tuple(np.zeros_like(g) if need else None for need in self.needs[:2])


def div(a, b, rounding_mode=None):
    """a / b; ``rounding_mode`` None (true division), 'floor' or 'trunc', as torch.div."""
    if rounding_mode is None:
        return Div.apply(a, b)
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"{rounding_mode!r}")
    return RoundedDiv.apply(a, b, rounding_mode)


class Neg(Function):
    """d(−a)/da = −1"""

    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class PowScalar(Function):
    """d(aⁿ)/da = n·aⁿ⁻¹ for a constant exponent n (0 for n = 0, also at a = 0, as PyTorch)"""

    def forward(self, a, n):
        self.save(a)
        self.n = n
        if n in (3, 4) and a.dtype.kind == "f":  # products, not pow() per element (NumPy's fast paths stop at 2)
            if kernels.fits_dtype(a):
                return (kernels.cube if n == 3 else kernels.fourth)(a)  # the same products in one pass
            sq = a * a
            return sq * (a if n == 3 else sq)
        return a**n

    def backward(self, g):
        (a,) = self.saved
        n = self.n
        if n == 2:
            return g * (2 * a)
        if n == 0:
            return np.zeros_like(g)
        if n in (3, 4) and a.dtype.kind == "f":  # products again: g·(n·aⁿ⁻¹), aⁿ⁻¹ as PyTorch multiplies it
            if kernels.fits_dtype(g, a):
                return (kernels.cube_backward if n == 3 else kernels.fourth_backward)(g, a)
            return g * (n * (a * a if n == 3 else a * a * a))
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 to a negative power is inf, as the forward
            return g * (n * a ** (n - 1))


class Pow(Function):
    """d(aᵇ)/da = b·aᵇ⁻¹ (0 where b = 0), d(aᵇ)/db = aᵇ·ln a (0 where a = 0 and b ≥ 0; NaN for a < 0)"""

    def forward(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.power(a, b)
        self.save(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs[0]:
                ga = np.where(b == 0, 0, g * b * np.power(a, b - 1)).astype(g.dtype, copy=False)
            if self.needs[1]:
                gb = np.where((a == 0) & (b >= 0), 0, g * out * np.log(a)).astype(g.dtype, copy=False)
        return ga, gb


def pow(a, b):
    """a ** b with PyTorch's type promotion: a float scalar and an integer tensor give float32; an integer
    tensor to a negative integer power is an error. A constant exponent takes the cheaper PowScalar path."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if a.dtype.kind in "iu" and isinstance(b, int) and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return PowScalar.apply(a, b)
    if not isinstance(a, Tensor):
        dtype = np.float32 if isinstance(a, float) and b.dtype.kind in "biu" else b.dtype
        a = from_numpy(np.asarray(a, dtype=dtype))
    return Pow.apply(a, b)


class Maximum(Function):
    """d max(a, b)/da = 1 where a > b, ½ where a = b (as PyTorch), else 0; the rest of the gradient goes to b"""

    pick, wins = np.maximum, np.greater  # Minimum: the same with np.minimum and np.less

    def forward(self, a, b):
        self.save(a, b)
        return self.pick(a, b)

    def backward(self, g):
        a, b = self.saved
        share = self.wins(a, b) + 0.5 * (a == b)
        ga = g * share.astype(g.dtype) if self.needs[0] else None
        gb = g * (1 - share).astype(g.dtype) if self.needs[1] else None
        return ga, gb


class Minimum(Maximum):
    """d min(a, b)/da = 1 where a < b, ½ where a = b (as PyTorch), else 0: Maximum with the comparison reversed"""

    pick, wins = np.minimum, np.less


class Where(Function):
    """where(c, a, b): the gradient flows to a where c holds, to b elsewhere"""

    def forward(self, cond, a, b):
        self.save(cond)
        return np.where(cond, a, b)

    def backward(self, g):
        (cond,) = self.saved
        zero = np.zeros((), dtype=g.dtype)
        ga = np.where(cond, g, zero) if self.needs[1] else None
        gb = np.where(cond, zero, g) if self.needs[2] else None
        return None, ga, gb


def where(condition, a=None, b=None):
    """Elements of a where condition is true, else of b (both differentiable); ``where(condition)`` alone is
    ``condition.nonzero(as_tuple=True)``, as in PyTorch."""
    if a is None and b is None:
        return tuple(from_numpy(i) for i in np.nonzero(condition.array if isinstance(condition, Tensor) else
                                                        np.asarray(condition)))
    cond = condition.array if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    dtype = next((x.dtype for x in (a, b) if isinstance(x, Tensor) and x.dtype.kind == "f"), None)
    a, b = (x if isinstance(x, Tensor) else np.asarray(x, dtype=dtype) for x in (a, b))
    return Where.apply(cond, a, b)
