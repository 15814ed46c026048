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
    def tan(self): return ops.elementwise.Tan.apply(self)
    def asin(self): return ops.elementwise.Asin.apply(self)
    def acos(self): return ops.elementwise.Acos.apply(self)
    def atan(self): return ops.elementwise.Atan.apply(self)
    def sinh(self): return ops.elementwise.Sinh.apply(self)
    def cosh(self): return ops.elementwise.Cosh.apply(self)
    def asinh(self): return ops.elementwise.Asinh.apply(self)
    def acosh(self): return ops.elementwise.Acosh.apply(self)
    def atanh(self): return ops.elementwise.Atanh.apply(self)
    def reciprocal(self): return ops.elementwise.Reciprocal.apply(self)
    def log2(self): return ops.elementwise.Log2.apply(self)
    def log10(self): return ops.elementwise.Log10.apply(self)
    def exp2(self): return ops.elementwise.Exp2.apply(self)
    def expm1(self): return ops.elementwise.Expm1.apply(self)
    def erf(self): return ops.elementwise.Erf.apply(self)
    def atan2(self, other): return ops.elementwise.Atan2.apply(self, other)
    def logaddexp(self, other): return ops.elementwise.LogAddExp.apply(self, other)
    def lerp(self, end, weight): return ops.elementwise.Lerp.apply(self, end, weight)

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = asin, acos, atan, asinh, acosh, atanh, atan2
    def clamp(self, min=None, max=None): return ops.unary.clamp(self, min, max)

    clip = clamp

    def maximum(self, other): return ops.arithmetic.Maximum.apply(self, other)
    def minimum(self, other): return ops.arithmetic.Minimum.apply(self, other)
    def masked_fill(self, mask, value): return ops.arithmetic.where(mask, value, self)
    def softmax(self, dim): return ops.reduce.Softmax.apply(self, dim=dim)
    def log_softmax(self, dim): return ops.reduce.LogSoftmax.apply(self, dim=dim)

    # -- reductions (NumPy's spellings axis= and keepdims= are accepted too, as PyTorch accepts them) ----------
    def sum(self, dim=None, keepdim=False, *, dtype=None, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return ops.reduce.Sum.apply(self if dtype is None else self.type(dtype), dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim=False, *, dtype=None, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return ops.reduce.Mean.apply(self if dtype is None else self.type(dtype), dim=dim, keepdim=keepdim)

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return ops.reduce.var(self, dim, keepdim, correction if unbiased is None else int(unbiased))

    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None, **numpy_names):
        return self.var(dim, keepdim, correction=correction, unbiased=unbiased, **numpy_names).sqrt()

    def max(self, dim=None, keepdim=False, **numpy_names):
        return ops.reduce.extreme(self, *_numpy_names(dim, keepdim, numpy_names), largest=True)

    def min(self, dim=None, keepdim=False, **numpy_names):
        return ops.reduce.extreme(self, *_numpy_names(dim, keepdim, numpy_names), largest=False)

    def amax(self, dim=None, keepdim=False, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return ops.reduce.Amax.apply(self, dim=dim, keepdim=keepdim, largest=True)

    def amin(self, dim=None, keepdim=False, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return ops.reduce.Amax.apply(self, dim=dim, keepdim=keepdim, largest=False)

    def logsumexp(self, dim, keepdim=False): return ops.reduce.LogSumExp.apply(self, dim=dim, keepdim=keepdim)

    def prod(self, dim=None, keepdim=False, *, dtype=None, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return ops.reduce.Prod.apply(self if dtype is None else self.type(dtype), dim=dim, keepdim=keepdim)

    def norm(self, p=2, dim=None, keepdim=False): return ops.reduce.norm(self, p, dim, keepdim)

    def argmax(self, dim=None, keepdim=False, **numpy_names):
        return ops.reduce.arg_extreme(self, *_numpy_names(dim, keepdim, numpy_names), np.argmax)

    def argmin(self, dim=None, keepdim=False, **numpy_names):
        return ops.reduce.arg_extreme(self, *_numpy_names(dim, keepdim, numpy_names), np.argmin)

    def any(self, dim=None, keepdim=False, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return type(self)._make(np.asarray(np.any(self.array, axis=dim, keepdims=keepdim)), False, None)

    def all(self, dim=None, keepdim=False, **numpy_names):
        dim, keepdim = _numpy_names(dim, keepdim, numpy_names)
        return type(self)._make(np.asarray(np.all(self.array, axis=dim, keepdims=keepdim)), False, None)

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
    def flip(self, dims): return ops.movement.Flip.apply(self, _dims(dims, self.ndim))
    def fliplr(self): return self.flip(1)
    def flipud(self): return self.flip(0)

    def roll(self, shifts, dims=None):
        if dims is None:
            return ops.movement.Roll.apply(self.flatten(), shifts, None).reshape(self.shape)
        return ops.movement.Roll.apply(self, _tuple(shifts), _dims(dims, self.ndim))

    def repeat(self, *sizes):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise RuntimeError(f"Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than number "
                               f"of dimensions of tensor ({self.ndim})")
        return ops.movement.Repeat.apply(self, tuple(int(s) for s in sizes))

    def tile(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return self.repeat((1,) * (self.ndim - len(dims)) + tuple(dims))

    def repeat_interleave(self, repeats, dim=None):
        x, dim = (self.flatten(), 0) if dim is None else (self, _dims(dim, self.ndim)[0])
        repeats = repeats.array if hasattr(repeats, "array") else repeats
        return ops.movement.RepeatInterleave.apply(x, repeats, dim)

    def narrow(self, dim, start, length):
        index = [slice(None)] * self.ndim
        index[_dims(dim, self.ndim)[0]] = slice(start, start + length)
        return self[tuple(index)]

    def movedim(self, source, destination):
        src, dst = _dims(source, self.ndim), _dims(destination, self.ndim)
        if len(src) != len(dst):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                               f"contain the same number of dims as destination ({list(dst)} dims)")
        perm = [None] * self.ndim
        for s, d in zip(src, dst):
            perm[d] = s
        rest = iter(d for d in range(self.ndim) if d not in src)
        return self.permute(*[p if p is not None else next(rest) for p in perm])

    moveaxis = movedim

    def unflatten(self, dim, sizes):
        dim = _dims(dim, self.ndim)[0]
        sizes = tuple(sizes)
        if -1 in sizes:
            known = int(np.prod([s for s in sizes if s != -1]))
            sizes = tuple(self.shape[dim] // known if s == -1 else s for s in sizes)
        return self.reshape(self.shape[:dim] + sizes + self.shape[dim + 1:])

    def diagonal(self, offset=0, dim1=0, dim2=1):
        d1, d2 = _dims((dim1, dim2), self.ndim)
        return ops.movement.Diagonal.apply(self, offset, d1, d2)

    def diag(self, diagonal=0):
        if self.ndim == 1:
            return ops.movement.DiagEmbed.apply(self, diagonal)
        if self.ndim != 2:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")
        return self.diagonal(diagonal)

    def trace(self): return self.diagonal().sum()
    def outer(self, other): return self.reshape(-1, 1) * other.reshape(1, -1)
    def cumsum(self, dim): return ops.scan.CumSum.apply(self, _dims(dim, self.ndim)[0] if self.ndim else None)
    def cumprod(self, dim): return ops.scan.CumProd.apply(self, _dims(dim, self.ndim)[0] if self.ndim else None)
    def gather(self, dim, index): return ops.index.Gather.apply(self, _dims(dim, self.ndim)[0], _index(index))

    def scatter(self, dim, index, src=None, value=None):
        src = value if src is None else src
        if not hasattr(src, "array"):
            src = np.broadcast_to(np.asarray(src, dtype=self.dtype), np.shape(_index(index)))
        return ops.index.Scatter.apply(self, _dims(dim, self.ndim)[0], _index(index), src)

    def scatter_add(self, dim, index, src):
        return ops.index.ScatterAdd.apply(self, _dims(dim, self.ndim)[0], _index(index), src)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        if not hasattr(src, "array"):
            raise TypeError(f"scatter_reduce(): argument 'src' (position 3) must be Tensor, not {type(src).__name__}")
        if self.ndim == 0:  # a 0-d scatter is the 1-d one on one element
            return self.reshape(1).scatter_reduce(dim, _index(index).reshape(1), src.reshape(1), reduce,
                                                  include_self=include_self).reshape(())
        d, index = _dims(dim, self.ndim)[0], _index(index)
        reduce = ops.index.check_scatter(self.array, d, index, src.array, reduce)
        return ops.index.ScatterReduce.apply(self, d, index, src, reduce=reduce, include_self=bool(include_self))

    def index_select(self, dim, index):
        return ops.index.IndexSelect.apply(self, _dims(dim, self.ndim)[0], _index(index).reshape(-1))

    def masked_select(self, mask): return self[np.broadcast_to(_index(mask), self.shape)]

    def cross(self, other, dim=None):
        if dim is None:  # the first dim of size 3, as torch.cross without dim
            dim = next((d for d, n in enumerate(self.shape) if n == 3), None)
            if dim is None:
                raise RuntimeError(f"cross: no dimension of size 3 in input of shape {tuple(self.shape)}")
        return ops.contract.Cross.apply(self, other, _dims(dim, self.ndim)[0])

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return ops.contract.NanToNum.apply(self, nan, posinf, neginf)

    def dist(self, other, p=2): return (self - other).norm(p)

    def nonzero(self, *, as_tuple=False):
        found = np.nonzero(self.array)
        if as_tuple:
            return tuple(type(self)._make(i, False, None) for i in found)
        return type(self)._make(np.stack(found, axis=1) if found else np.zeros((1, 0), np.int64), False, None)

    def count_nonzero(self, dim=None):
        return type(self)._make(np.asarray(np.count_nonzero(self.array, axis=dim), dtype=np.int64), False, None)

    def isinf(self): return type(self)._make(np.isinf(self.array), False, None)
    def isposinf(self): return type(self)._make(np.isposinf(self.array), False, None)
    def isneginf(self): return type(self)._make(np.isneginf(self.array), False, None)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        other = other.array if hasattr(other, "array") else other
        return type(self)._make(np.isclose(self.array, other, rtol=rtol, atol=atol, equal_nan=equal_nan), False, None)

    def histc(self, bins=100, min=0, max=0):
        a = self.array
        lo, hi = (float(a.min()), float(a.max())) if min == max and a.size else (min, max)
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        counts, _ = np.histogram(a[(a >= lo) & (a <= hi)], bins=bins, range=(lo, hi))
        return type(self)._make(counts.astype(a.dtype), False, None)

    def erfinv(self): return ops.elementwise.Erfinv.apply(self)
    def cummax(self, dim): return _MinMax(*ops.scan._running(self, _dims(dim, self.ndim)[0], largest=True))
    def cummin(self, dim): return _MinMax(*ops.scan._running(self, _dims(dim, self.ndim)[0], largest=False))
    def kthvalue(self, k, dim=-1, keepdim=False): return ops.sort.kthvalue(self, k, dim, keepdim)
    def median(self, dim=None, keepdim=False): return ops.sort.median(self, dim, keepdim)
    def mode(self, dim=-1, keepdim=False): return ops.sort.mode(self, dim, keepdim)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return ops.sort.unique(self, sorted, return_inverse, return_counts, dim)

    def index_add(self, dim, index, source, *, alpha=1):
        d = _dims(dim, self.ndim)[0]
        view = [1] * source.ndim
        view[d] = -1
        full = np.broadcast_to(_index(index).reshape(view), source.shape)
        return ops.index.ScatterAdd.apply(self, d, np.ascontiguousarray(full), source if alpha == 1 else source * alpha)

    def tril(self, diagonal=0): return ops.shape.triangle(self, diagonal, upper=False)
    def triu(self, diagonal=0): return ops.shape.triangle(self, diagonal, upper=True)


def _dims(dims, ndim) -> tuple:
    """dims (an int or a sequence) as non-negative ints, checked as PyTorch checks them."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    rank = max(ndim, 1)
    for d in dims:
        if not -rank <= d < rank:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {d})")
    return tuple(int(d) % rank for d in dims)


def _tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _index(index) -> np.ndarray:
    """An index tensor (or array) as the array the ops take."""
    return np.asarray(index.array if hasattr(index, "array") else index)


def _numpy_names(dim, keepdim, numpy_names: dict) -> tuple:
    """(dim, keepdim), also when given as NumPy's ``axis=`` / ``keepdims=``; any other keyword is an error."""
    if numpy_names:
        unknown = sorted(set(numpy_names) - {"axis", "keepdims"})
        if unknown:
            raise TypeError(f"got an unexpected keyword argument {unknown[0]!r}")
        dim, keepdim = numpy_names.get("axis", dim), numpy_names.get("keepdims", keepdim)
    return dim, keepdim


def _MinMax(values, indices):
    """(values, indices) as a named pair, as cummax/cummin return."""
    return ops.reduce.MinMax(values, type(values)._make(indices, False, None))
