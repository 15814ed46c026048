"""More activation functions, as PyTorch names them: z ↦ f(z), backward g ↦ g·f'(z).

At a kink each takes the one-sided derivative PyTorch takes (stated in its docstring), so gradients agree there
too. Two of them have more than one input: GLU (its two halves) and PReLU (its learnable slopes).
"""

from __future__ import annotations

import numpy as np

from lamina.autograd.function import Function
from lamina.ops.unary import _float, sigmoid_array

# SELU's constants (Klambauer et al. 2017), as PyTorch writes them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class Hardtanh(Function):
    """d/dz clamp(z, lo, hi) = 1 strictly inside (lo, hi), 0 elsewhere, the kinks included (as PyTorch)"""

    def forward(self, z, lo, hi):
        self.save(z)
        self.lo, self.hi = lo, hi
        return np.clip(z, lo, hi)

    def backward(self, g):
        (z,) = self.saved
        return g * ((z > self.lo) & (z < self.hi))


class ScaledELU(Function):
    """elu with scales, as PyTorch's elu kernel: s·z if z > 0 else s·α·(e^(z/β) − 1);
    d/dz = s if z > 0 else (s·α/β)·e^(z/β). SELU: s, α fixed, β = 1; CELU: s = 1, β = α."""

    def forward(self, z, scale, alpha, beta):
        z = _float(z)
        self.save(z)
        self.scale, self.alpha, self.beta = scale, alpha, beta
        neg = (scale * alpha) * np.expm1(np.minimum(z, 0) / beta)
        return np.where(z > 0, scale * z, neg).astype(z.dtype, copy=False)

    def backward(self, g):
        (z,) = self.saved
        neg = (self.scale * self.alpha / self.beta) * np.exp(np.minimum(z, 0) / self.beta)
        return (g * np.where(z > 0, self.scale, neg)).astype(g.dtype, copy=False)


class Mish(Function):
    """mish(z) = z·tanh(softplus(z)); d/dz = t + z·σ(z)·(1 − t²), t = tanh(softplus(z))"""

    def forward(self, z):
        z = _float(z)
        t = np.tanh(np.logaddexp(0, z))
        self.save(z, t)
        return z * t

    def backward(self, g):
        z, t = self.saved
        return g * (t + z * sigmoid_array(z) * (1 - t * t))


class Hardswish(Function):
    """hardswish(z) = z·clamp(z + 3, 0, 6)/6; d/dz = 0 for z ≤ −3, z/3 + ½ for −3 < z < 3, 1 for z ≥ 3 (as PyTorch)"""

    def forward(self, z):
        self.save(z)
        return z * np.clip(z + 3, 0, 6) / 6

    def backward(self, g):
        (z,) = self.saved
        slope = np.where(z <= -3, 0, np.where(z < 3, z / 3 + 0.5, 1)).astype(g.dtype, copy=False)
        return g * slope


class Hardsigmoid(Function):
    """hardsigmoid(z) = clamp(z + 3, 0, 6)/6; d/dz = 1/6 strictly inside (−3, 3), else 0 (as PyTorch)"""

    def forward(self, z):
        self.save(z)
        return np.clip(z + 3, 0, 6) / 6

    def backward(self, g):
        (z,) = self.saved
        return g * ((z > -3) & (z < 3)) / 6


class LogSigmoid(Function):
    """log σ(z) = −softplus(−z); d/dz = σ(−z) = 1 − σ(z)"""

    def forward(self, z):
        z = _float(z)
        self.save(z)
        return -np.logaddexp(0, -z)

    def backward(self, g):
        (z,) = self.saved
        return g * sigmoid_array(-z)


class Softsign(Function):
    """softsign(z) = z/(1 + |z|); d/dz = 1/(1 + |z|)²"""

    def forward(self, z):
        z = _float(z)
        self.save(z)
        return z / (1 + np.abs(z))

    def backward(self, g):
        (z,) = self.saved
        d = 1 + np.abs(z)
        return g / (d * d)


class Tanhshrink(Function):
    """tanhshrink(z) = z − tanh z; d/dz = tanh² z"""

    def forward(self, z):
        z = _float(z)
        t = np.tanh(z)
        self.save(t)
        return z - t

    def backward(self, g):
        (t,) = self.saved
        return g * t * t


class Threshold(Function):
    """threshold(z) = z if z > θ else v; d/dz = 1 if z > θ else 0"""

    def forward(self, z, threshold, value):
        self.save(z)
        self.threshold = threshold
        return np.where(z > threshold, z, np.asarray(value, z.dtype))

    def backward(self, g):
        (z,) = self.saved
        return g * (z > self.threshold)


class Softshrink(Function):
    """softshrink(z) = z − λ if z > λ, z + λ if z < −λ, else 0; d/dz = 1 outside [−λ, λ], 0 inside (ends included)"""

    def forward(self, z, lambd):
        self.save(z)
        self.lambd = lambd
        return np.where(z > lambd, z - lambd, np.where(z < -lambd, z + lambd, 0)).astype(z.dtype, copy=False)

    def backward(self, g):
        (z,) = self.saved
        return g * ((z < -self.lambd) | (z > self.lambd))


class Hardshrink(Function):
    """hardshrink(z) = z outside [−λ, λ], else 0; d/dz = 1 outside [−λ, λ], 0 inside (ends included)"""

    def forward(self, z, lambd):
        self.save(z)
        self.lambd = lambd
        keep = (z < -lambd) | (z > lambd)
        return z * keep

    def backward(self, g):
        (z,) = self.saved
        return g * ((z < -self.lambd) | (z > self.lambd))


class GLU(Function):
    """glu(z) = a·σ(b), (a, b) the two halves of z along dim; d/da = σ(b), d/db = a·σ(b)·(1 − σ(b))"""

    def forward(self, z, dim):
        a, b = np.split(_float(z), 2, axis=dim)
        s = sigmoid_array(b)
        self.save(a, s)
        self.dim = dim
        return a * s

    def backward(self, g):
        a, s = self.saved
        return np.concatenate([g * s, g * a * s * (1 - s)], axis=self.dim)


class PReLU(Function):
    """prelu(z) = z if z > 0 else w·z, one slope w per channel (axis 1) or one for all;
    d/dz = 1 if z > 0 else w, d/dw = Σ over the other axes of (0 if z > 0 else z)"""

    def forward(self, z, w):
        self.save(z, w)
        return np.where(z > 0, z, z * self._aligned(w, z.ndim))

    @staticmethod
    def _aligned(w, ndim):
        """The slopes shaped to broadcast along the channel axis."""
        if w.size == 1:
            return w.reshape(())
        return w.reshape((1, -1) + (1,) * (ndim - 2))

    def backward(self, g):
        z, w = self.saved
        positive = z > 0
        gz = np.where(positive, g, g * self._aligned(w, z.ndim)) if self.needs[0] else None
        gw = None
        if self.needs[1]:
            per_element = np.where(positive, 0, z * g)
            if w.size == 1:
                gw = np.add.reduce(per_element, axis=None).reshape(w.shape)
            else:
                axes = tuple(i for i in range(z.ndim) if i != 1)
                gw = np.add.reduce(per_element, axis=axes).reshape(w.shape)
        return gz, gw
