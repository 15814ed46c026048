"""Pack: the node that lets a module's backward hook see the gradients of all its inputs (or outputs) at once."""

from __future__ import annotations

import numpy as np

from lamina.autograd.function import Function


class Pack(Function):
    """(z₁, …, zₙ) ↦ one flat array holding them all (the caller slices them back out), so that one backward sees
    every zᵢ's gradient together and hands them to on_grads, which may replace them; d/dzᵢ = 1 on zᵢ's slice"""

    def forward(self, *zs, on_grads):
        self.shapes, self.on_grads = [z.shape for z in zs], on_grads
        return np.concatenate([np.ravel(z) for z in zs])

    def backward(self, g):
        ends = np.cumsum([int(np.prod(s)) for s in self.shapes])[:-1]
        parts = [p.reshape(s) for p, s in zip(np.split(g, ends), self.shapes)]
        return tuple(self.on_grads(parts))
