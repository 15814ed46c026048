"""Matrix products: matmul (batched, with broadcasting) and the fused linear layer x·Wᵀ + b (its checked entry point
is lamina.nn.functional.linear)."""

from __future__ import annotations

import numpy as np

from lamina import kernels, threads
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


# Products with nothing recorded, by multiply-adds (lamina.threads): below PARALLEL_WORK, and from OWN_THREADS on,
# as in training (BLAS picks its threads: OpenBLAS's own sharing beats handing rows to lamina's threads, ~0.2 ms a
# handoff on this project's VM, for large products); in between BLAS on one thread, so that its threads do not
# spin beside the ops shared between threads that come next (LeNet-5: 1.0x PyTorch's inference with BLAS's
# threads, 1.2x without), and from SPLIT_PRODUCT on the rows shared between lamina's threads.
SPLIT_PRODUCT = 2**23
OWN_THREADS = 2**26


class Linear(Function):
    """z = x·Wᵀ + b; dz/dx = G·W, dz/dW = Gᵀ·x, dz/db = Σ G over the batch"""

    def forward(self, x, w, b):
        self.save(x, w)
        self.has_bias = b is not None
        if not self.recording and x.ndim == 2 and threads.PARALLEL_WORK <= x.shape[0] * w.size < OWN_THREADS:
            return self._inference(x, w, b)
        z = np.dot(x, w.T) if x.ndim == 2 else _rows_times(x, w.T)  # np.dot: less call overhead for 2-D
        if b is not None:
            z += b
        return z

    @staticmethod
    def _inference(x, w, b):
        """A mid-sized 2-D product with nothing recorded (see OWN_THREADS), BLAS on one thread: its rows shared
        between lamina's threads from SPLIT_PRODUCT multiply-adds on, each x[rows]·Wᵀ + b; below, on this thread."""
        z = np.empty((x.shape[0], w.shape[0]), dtype=np.result_type(x, w))

        def rows(start, stop):
            np.matmul(x[start:stop], w.T, out=z[start:stop])
            if b is not None:
                z[start:stop] += b

        work = x.shape[0] * w.size
        if work >= SPLIT_PRODUCT:
            threads.run(rows, threads.split(len(x), threads.threads_for(work)))
        else:
            with threads.blas_alone():
                rows(0, len(x))
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
