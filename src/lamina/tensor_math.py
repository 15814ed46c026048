"""Tensor's mathematical methods, each a one-line call into ``lamina.ops``: element-wise math, reductions, shape.

They live in ``TensorMath``, a base class of ``Tensor``, so that ``tensor.py`` stays the data model (storage,
autograd, conversion, in-place updates, operators, indexing, printing). The ops import Tensor, so this module cannot
import them: ``tensor.py`` binds ``ops`` here once both exist.
"""

from __future__ import annotations

import numpy as np

ops = None  # lamina.ops, bound by tensor.py at its end


class TensorMath:
    """The methods of ``Tensor`` that apply an op (``t.exp()``, ``t.sum(dim)``, ``t.reshape(...)``, ...)."""

    __slots__ = ()

    # -- element-wise math ----------------------------------------------------------------------
    def add(self, other, alpha=1): return self + (other if alpha == 1 else other * alpha)
    def sub(self, other, alpha=1): return self - (other if alpha == 1 else other * alpha)
    def mul(self, other): return self * other
    def div(self, other, *, rounding_mode=None): return ops.arithmetic.div(self, other, rounding_mode)
    def floor_divide(self, other): return ops.arithmetic.div(self, other, "floor")
    def remainder(self, other): return ops.arithmetic.Remainder.apply(self, other)
    def fmod(self, other): return ops.arithmetic.Fmod.apply(self, other)
    def pow(self, exponent): return self**exponent
    def neg(self): return -self
    def exp(self): return ops.unary.Exp.apply(self)
    def log(self): return ops.unary.Log.apply(self)
    def log1p(self): return ops.unary.Log1p.apply(self)
    def sqrt(self): return ops.unary.Sqrt.apply(self)
    def rsqrt(self): return ops.unary.Sqrt.apply(self) ** -1
    def abs(self): return ops.unary.Abs.apply(self)
    def sin(self): return ops.unary.Sin.apply(self)
    def cos(self): return ops.unary.Cos.apply(self)
    def tanh(self): return ops.unary.Tanh.apply(self)
    def sigmoid(self): return ops.unary.Sigmoid.apply(self)
    def relu(self): return ops.unary.ReLU.apply(self)
    def sign(self): return ops.unary.Step.apply(self, np.sign)
    def round(self): return ops.unary.Step.apply(self, np.round)
    def floor(self): return ops.unary.Step.apply(self, np.floor)
    def ceil(self): return ops.unary.Step.apply(self, np.ceil)
    def trunc(self): return ops.unary.Step.apply(self, np.trunc)
    def square(self): return self * self
    def clamp(self, min=None, max=None): return ops.unary.clamp(self, min, max)

    clip = clamp

    def maximum(self, other): return ops.arithmetic.Maximum.apply(self, other)
    def minimum(self, other): return ops.arithmetic.Minimum.apply(self, other)
    def masked_fill(self, mask, value): return ops.arithmetic.where(mask, value, self)
    def softmax(self, dim): return ops.reduce.Softmax.apply(self, dim=dim)
    def log_softmax(self, dim): return ops.reduce.LogSoftmax.apply(self, dim=dim)

    # -- reductions ------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False): return ops.reduce.Sum.apply(self, dim=dim, keepdim=keepdim)
    def mean(self, dim=None, keepdim=False): return ops.reduce.Mean.apply(self, dim=dim, keepdim=keepdim)

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return ops.reduce.var(self, dim, keepdim, correction if unbiased is None else int(unbiased))

    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return ops.reduce.var(self, dim, keepdim, correction if unbiased is None else int(unbiased)).sqrt()

    def max(self, dim=None, keepdim=False): return ops.reduce.extreme(self, dim, keepdim, largest=True)
    def min(self, dim=None, keepdim=False): return ops.reduce.extreme(self, dim, keepdim, largest=False)
    def amax(self, dim=None, keepdim=False): return ops.reduce.Amax.apply(self, dim=dim, keepdim=keepdim, largest=True)
    def amin(self, dim=None, keepdim=False): return ops.reduce.Amax.apply(self, dim=dim, keepdim=keepdim, largest=False)
    def logsumexp(self, dim, keepdim=False): return ops.reduce.LogSumExp.apply(self, dim=dim, keepdim=keepdim)
    def prod(self, dim=None, keepdim=False): return ops.reduce.Prod.apply(self, dim=dim, keepdim=keepdim)
    def norm(self, p=2, dim=None, keepdim=False): return ops.reduce.norm(self, p, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return ops.reduce.arg_extreme(self, dim, keepdim, np.argmax)
    def argmin(self, dim=None, keepdim=False): return ops.reduce.arg_extreme(self, dim, keepdim, np.argmin)

    # -- ordering and sampling -------------------------------------------------------------------
    def sort(self, dim=-1, descending=False, *, stable=False):
        return ops.sort.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending=False, *, stable=False):
        return ops.sort.argsort(self, dim, descending, stable=stable)

    def topk(self, k, dim=-1, largest=True, sorted=True): return ops.sort.topk(self, k, dim, largest, sorted)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return ops.sampling.multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, p=None, *, generator=None): return ops.sampling.bernoulli(self, p, generator=generator)

    # -- shape ---------------------------------------------------------------------------------
    def reshape(self, *shape): return ops.shape.reshape(self, shape)

    view = reshape

    def view_as(self, other): return ops.shape.reshape(self, other.shape)
    def reshape_as(self, other): return ops.shape.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return ops.shape.flatten(self, start_dim, end_dim)
    def transpose(self, dim0, dim1): return ops.shape.transpose(self, dim0, dim1)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self if self.ndim < 2 else ops.shape.transpose(self, 0, 1)

    @property
    def T(self):
        return ops.shape.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return ops.shape.transpose(self, -2, -1)

    def permute(self, *dims): return ops.shape.permute(self, dims)
    def squeeze(self, dim=None): return ops.shape.squeeze(self, dim)
    def unsqueeze(self, dim): return ops.shape.unsqueeze(self, dim)
    def expand(self, *sizes): return ops.shape.expand(self, sizes)
    def expand_as(self, other): return ops.shape.expand(self, other.shape)
    def split(self, split_size_or_sections, dim=0): return ops.shape.split(self, split_size_or_sections, dim)
    def chunk(self, chunks, dim=0): return ops.shape.chunk(self, chunks, dim)
    def matmul(self, other): return ops.linalg.matmul(self, other)
    def mm(self, other): return ops.linalg.matmul(self, other)
    def bmm(self, other): return ops.linalg.bmm(self, other)
    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1): return ops.linalg.baddbmm(self, batch1, batch2, beta=beta,
                                                                                     alpha=alpha)
    def tril(self, diagonal=0): return ops.shape.triangle(self, diagonal, upper=False)
    def triu(self, diagonal=0): return ops.shape.triangle(self, diagonal, upper=True)
