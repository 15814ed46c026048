"""Ops that move or copy elements without arithmetic: flip, roll, repeat (tile), repeat_interleave, diagonal,
diag_embed. The gradient goes back along the same moves, summed where one element was copied to several places."""

from __future__ import annotations

import numpy as np

from lamina.autograd.function import Function


class Flip(Function):
    """y = x reversed along dims; dL/dx = g reversed the same way"""

    def forward(self, x, dims):
        self.dims = dims
        return np.flip(x, dims).copy()

    def backward(self, g):
        return np.flip(g, self.dims)


class Roll(Function):
    """y = x shifted cyclically; dL/dx = g shifted back"""

    def forward(self, x, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return np.roll(x, shifts, dims)

    def backward(self, g):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return np.roll(g, back, self.dims)


class Repeat(Function):
    """y = x tiled ``reps`` times along each dim (torch's repeat, NumPy's tile); dL/dx sums the copies"""

    def forward(self, x, reps):
        self.shape, self.reps = x.shape, reps
        return np.tile(x, reps)

    def backward(self, g):
        shape = (1,) * (len(self.reps) - len(self.shape)) + self.shape
        split = [n for pair in zip(self.reps, shape) for n in pair]  # (r0, d0, r1, d1, ...)
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(self.shape)


class RepeatInterleave(Function):
    """y = each element of x repeated ``repeats`` times along dim; dL/dx sums each element's copies"""

    def forward(self, x, repeats, dim):
        self.dim, self.repeats, self.n = dim, repeats, x.shape[dim]
        return np.repeat(x, repeats, axis=dim)

    def backward(self, g):
        if np.ndim(self.repeats) == 0:
            shape = g.shape[:self.dim] + (self.n, int(self.repeats)) + g.shape[self.dim + 1:]
            return g.reshape(shape).sum(axis=self.dim + 1)
        repeats = np.asarray(self.repeats)
        out = np.zeros(g.shape[:self.dim] + (self.n,) + g.shape[self.dim + 1:], dtype=g.dtype)
        kept = np.flatnonzero(repeats)  # elements copied at least once; each copies a run of g along dim
        if kept.size:
            starts = (np.cumsum(repeats) - repeats)[kept]
            index = [slice(None)] * g.ndim
            index[self.dim] = kept
            out[tuple(index)] = np.add.reduceat(g, starts, axis=self.dim)
        return out


class Diagonal(Function):
    """y = the diagonal (offset) of x over dims (d1, d2), as the last dim; dL/dx = g on that diagonal, 0 elsewhere"""

    def forward(self, x, offset, dim1, dim2):
        self.shape, self.args = x.shape, (offset, dim1, dim2)
        return np.diagonal(x, offset, dim1, dim2).copy()

    def backward(self, g):
        offset, dim1, dim2 = self.args
        grad = np.zeros(self.shape, dtype=g.dtype)
        moved = np.moveaxis(grad, (dim1, dim2), (-2, -1))  # a view: writing into it fills grad
        i = np.arange(g.shape[-1])
        rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
        moved[..., rows, cols] = g
        return grad


class DiagEmbed(Function):
    """y = a matrix with x on its diagonal (offset), zeros elsewhere (torch.diag of a vector); dL/dx = that
    diagonal of g"""

    def forward(self, x, offset):
        self.offset = offset
        return np.diag(x, offset)

    def backward(self, g):
        return np.diagonal(g, self.offset).copy()


def meshgrid(*tensors, indexing: str = "ij"):
    """Coordinate grids from 1-D tensors, as torch.meshgrid: with 'ij' output k varies along dim k; with 'xy' the
    first two dims are swapped (Cartesian). Made of reshape and expand, so gradients flow back to the inputs."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    sizes = [t.numel() for t in tensors]
    dims = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        dims[0], dims[1] = 1, 0
    shape = [0] * len(tensors)
    for i, d in enumerate(dims):
        shape[d] = sizes[i]
    grids = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[dims[i]] = sizes[i]
        grids.append(t.reshape(view).expand(*shape))
    return tuple(grids)
