"""Shape operations: they move elements around, so their backward moves gradients back."""

from __future__ import annotations

import numpy as np

from lamina.autograd.function import Function
from lamina.ops import index as index_ops
from lamina.tensor import Tensor, _index_arrays


class Clone(Function):
    """d/dx copy(x) = 1"""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


class Cast(Function):
    """d/dx x.to(dtype) = 1, cast back to x's dtype"""

    float64_ok = True

    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.dtype) if self.dtype.kind == "f" else None


class Reshape(Function):
    """reshape moves no values: the gradient is reshaped back"""

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x: Tensor, shape) -> Tensor:
    shape = _shape_arg(shape)
    try:
        return Reshape.apply(x, shape)
    except ValueError:
        raise ValueError(f"reshape: shape {shape} is invalid for input of shape {x.shape} "
                         f"({x.numel()} elements)") from None


def flatten(x: Tensor, start_dim=0, end_dim=-1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
    return reshape(x, shape) if s <= e else x


class Permute(Function):
    """permute(x, dims): the gradient is permuted by the inverse permutation"""

    def forward(self, x, dims):
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):  # the inverse permutation (np.argsort of a tuple costs ~10 µs)
            inverse[d] = i
        self.inverse = tuple(inverse)
        return x.transpose(dims)

    def backward(self, g):
        return g.transpose(self.inverse)


def permute(x: Tensor, dims) -> Tensor:
    dims = _shape_arg(dims)
    if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dimensions of {x.shape}")
    return Permute.apply(x, tuple(d % x.ndim for d in dims))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(x.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return Permute.apply(x, tuple(dims))


def squeeze(x: Tensor, dim=None) -> Tensor:
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = set()
        for d in (dim,) if isinstance(dim, int) else dim:
            if not -max(x.ndim, 1) <= d < max(x.ndim, 1):
                raise IndexError(f"Dimension out of range (expected to be in range of [{-max(x.ndim, 1)}, "
                                 f"{max(x.ndim, 1) - 1}], but got {d})")
            dims.add(d % max(x.ndim, 1))
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return Reshape.apply(x, shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    d = dim % (x.ndim + 1)
    return Reshape.apply(x, x.shape[:d] + (1,) + x.shape[d:])


class Expand(Function):
    """broadcast_to(x, shape): the gradient is summed over the broadcast dimensions"""

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, g):
        return g  # the engine sums a broadcast gradient back to x's shape


def expand(x: Tensor, sizes) -> Tensor:
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes {sizes} must be >= the tensor's dims {x.shape}")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {x.shape} to {sizes}") from None
    return Expand.apply(x, shape)


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in items)


class GetItem(Function):
    """x[index]: the gradient is scattered back, summing where an index repeats"""

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return np.asarray(x[index])

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        if _is_advanced(self.index):
            np.add.at(grad, self.index, g)
        else:
            grad[self.index] = g
        return grad


def _is_int(i) -> bool:
    return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def getitem(x: Tensor, index) -> Tensor:
    index = _index_arrays(index)
    if isinstance(index, list):
        index = np.asarray(index)
    try:
        if isinstance(index, tuple) and _is_advanced(index) and any(_is_int(i) for i in index):
            # PyTorch applies integer indices first, as basic indexing, then the advanced ones: the result's
            # layout then differs from NumPy's when an integer and an array are separated by a slice
            first = tuple(i if _is_int(i) or i is None or i is Ellipsis else slice(None) for i in index)
            rest = tuple(slice(None) if i is None else i for i in index if not _is_int(i))
            return GetItem.apply(GetItem.apply(x, first), rest)
        if type(index) is np.ndarray and index.dtype.kind in "iu" and x.ndim:
            return index_ops.TakeRows.apply(x, index)  # a table lookup, the common case: W[idx]
        return GetItem.apply(x, index)
    except IndexError as err:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {err}") from None


class Triangle(Function):
    """tril(x, k) / triu(x, k) over the last two dims: the gradient keeps the same triangle"""

    def forward(self, x, diagonal, upper):
        self.diagonal, self.pick = diagonal, np.triu if upper else np.tril
        return self.pick(x, diagonal)

    def backward(self, g):
        return self.pick(g, self.diagonal)


def triangle(x: Tensor, diagonal: int, upper: bool) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions, got shape "
                         f"{x.shape}")
    return Triangle.apply(x, int(diagonal), upper)


class Cat(Function):
    """cat(xs, dim): the gradient is split back into the pieces' sizes"""

    def forward(self, *xs, dim):
        self.dim = dim
        self.bounds = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.dim))


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ref = tensors[0].shape
    d = dim % max(len(ref), 1)
    for t in tensors[1:]:
        if t.ndim != len(ref) or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref)) if i != d):
            raise ValueError(f"cat: shapes {[tuple(x.shape) for x in tensors]} must match except in dim {dim}")
    return Cat.apply(*tensors, dim=d)


class Stack(Function):
    """stack(xs, dim): each piece gets its slice of the gradient"""

    def forward(self, *xs, dim):
        self.dim = dim
        return np.stack(xs, axis=dim)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.dim, 0))


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: every tensor must have the same shape, got {[tuple(t.shape) for t in tensors]}")
    return Stack.apply(*tensors, dim=dim % (tensors[0].ndim + 1))


def split(x: Tensor, split_size_or_sections, dim: int = 0):
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        sizes = [min(step, n - i) for i in range(0, n, step)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} do not add up to {n}, the size of dim {dim} of {x.shape}")
    out, start = [], 0
    d = dim % x.ndim
    for s in sizes:
        index = (slice(None),) * d + (slice(start, start + s),)
        out.append(getitem(x, index))
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0):
    n = x.shape[dim]
    step = -(-n // chunks)
    return split(x, step, dim)


class Pad(Function):
    """constant padding: the gradient is the centre slice"""

    def forward(self, x, widths, value):
        self.inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.inner]


class GatherDistinct(Function):
    """y = x[index], each position named at most once (nn.utils.rnn's packing): the gradient is put back there"""

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        grad[self.index] = g  # a plain assignment: no position repeats
        return grad, None


class ScatterDistinct(Function):
    """y = value everywhere but y[index] = x, each position named once (unpacking); dL/dx = g[index]"""

    def forward(self, x, index, shape, value):
        self.index = index
        out = np.full(shape, value, dtype=x.dtype)
        out[index] = x
        return out

    def backward(self, g):
        return g[self.index], None, None, None


class PadMode(Function):
    """reflect / replicate / circular padding (np.pad's reflect, edge, wrap): each border element copies one of x,
    so its gradient is added back onto the element it copies"""

    MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def forward(self, x, widths, mode):
        self.widths, self.mode = widths, mode
        return np.pad(x, widths, mode=self.MODES[mode])

    def backward(self, g):
        for axis, (lo, hi) in enumerate(self.widths):
            if not (lo or hi):
                continue
            gm = np.moveaxis(g, axis, 0)
            n = gm.shape[0] - lo - hi
            core, left, right = gm[lo:lo + n].copy(), gm[:lo], gm[lo + n:]
            if self.mode == "reflect":  # left border j copies x[lo − j], right border j copies x[n − 2 − j]
                core[1:lo + 1] += left[::-1]
                core[n - 1 - hi:n - 1] += right[::-1]
            elif self.mode == "replicate":
                core[0] += left.sum(axis=0)
                core[n - 1] += right.sum(axis=0)
            else:  # circular: left border copies the last lo elements, right border the first hi
                core[n - lo:] += left
                core[:hi] += right
            g = np.moveaxis(core, 0, axis)
        return g
