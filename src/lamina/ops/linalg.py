"""Matrix products: matmul (batched, with broadcasting) and the fused linear layer x·Wᵀ + b (its checked entry point
is lamina.nn.functional.linear)."""

from __future__ import annotations

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function
from lamina.tensor import Tensor


class MatMul(Function):
    """d(A·B)/dA = G·Bᵀ, d(A·B)/dB = Aᵀ·G (batch dims summed back by the engine)"""

    def forward(self, a, b):
        self.save(a, b)
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.saved
        ga = gb = None
        if self.needs[0]:
            ga = np.matmul(g, np.swapaxes(b, -1, -2))
        if self.needs[1]:
            gb = np.matmul(np.swapaxes(a, -1, -2), g)
        return ga, gb


def matmul(a, b) -> Tensor:
    """a @ b with PyTorch's rules for 1-D operands; shape errors name both shapes."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else Tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied ({k_a} != {k_b}: the last dim of the "
            f"first must equal the {'only' if b.ndim == 1 else 'second-to-last'} dim of the second)"
        )
    _check_dtypes("matmul", a, b)
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return MatMul.apply(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return MatMul.apply(a, b.unsqueeze(-1)).squeeze(-1)
    return MatMul.apply(a, b)


def _check_dtypes(op, *tensors):
    first = tensors[0].dtype
    if any(t is not None and t.dtype != first for t in tensors[1:]):
        names = " and ".join(sorted({str(t.dtype) for t in tensors if t is not None}))
        raise TypeError(f"{op}: expected tensors of one dtype, got {names}; convert with .float() or .double()")


def _rows_times(x, m):
    """x (..., K) · m (K, N): one GEMM over all the rows of a C-contiguous x (np.matmul runs one per matrix of the
    batch: measured 30-40% slower for a Transformer's (32, 64, 128) activations); np.matmul for other layouts."""
    if not x.flags.c_contiguous or x.size == 0:
        return np.matmul(x, m)
    return np.dot(x.reshape(-1, x.shape[-1]), m).reshape(*x.shape[:-1], m.shape[-1])


class Linear(Function):
    """z = x·Wᵀ + b; dz/dx = G·W, dz/dW = Gᵀ·x, dz/db = Σ G over the batch"""

    def forward(self, x, w, b):
        self.save(x, w)
        self.has_bias = b is not None
        z = np.dot(x, w.T) if x.ndim == 2 else _rows_times(x, w.T)  # np.dot: less call overhead for 2-D
        if b is not None:
            z += b
        return z

    def backward(self, g):
        x, w = self.saved
        gx = (np.dot(g, w) if g.ndim == 2 else _rows_times(g, w)) if self.needs[0] else None
        gw = gb = None
        if self.needs[1] or (self.has_bias and self.needs[2]):
            g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
            if self.needs[1]:
                x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
                gw = np.empty_like(w)  # in W's memory order, so the optimizer's update sees matching arrays
                if gw.flags.c_contiguous:
                    np.dot(g2.T, x2, out=gw)
                else:
                    np.dot(x2.T, g2, out=gw.T)  # Gᵀ·x written through its transpose, xᵀ·G
            if self.has_bias and self.needs[2]:
                gb = np.add.reduce(g2, axis=0)
        return gx, gw, gb


class TinyLinear(Linear):
    """Linear for 2-D float32 products of at most kernels.TINY multiply-adds: forward and backward each in one
    kernel call (a BLAS call costs about a microsecond however small the product)"""

    def forward(self, x, w, b):
        self.save(x, w)
        self.has_bias = b is not None
        z = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
        kernels.linear(x, w, b, z)
        return z

    def backward(self, g):
        if not kernels.fits(g):  # a gradient that is not C-contiguous float32, or the kernels switched off since
            return super().backward(g)
        x, w = self.saved
        gx = np.empty_like(x) if self.needs[0] else None
        gw = np.empty_like(w) if self.needs[1] else None
        gb = np.empty(w.shape[0], dtype=w.dtype) if self.has_bias and self.needs[2] else None
        kernels.linear_backward(g, x, w, gx, gw, gb)
        return gx, gw, gb

    @property
    def name(self) -> str:
        return "LinearBackward0"  # the same op in the graph; only its implementation differs


def bmm(a, b) -> Tensor:
    """Batched matrix product of (B, n, m) and (B, m, p), without broadcasting (as torch.bmm)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: expected 3-D tensors (B, n, m) and (B, m, p), got shapes {a.shape} and {b.shape}")
    _check_dtypes("bmm", a, b)
    return MatMul.apply(a, b)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta·input + alpha·(batch1 @ batch2), input broadcast to the product's shape (as torch.baddbmm)."""
    product = bmm(batch1, batch2)
    if alpha != 1:
        product = product * alpha
    if beta == 0:  # as torch: input is ignored, even its NaN and inf
        return product
    return product + (input if beta == 1 else input * beta)
