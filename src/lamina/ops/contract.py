"""Tensor contractions named by subscripts (einsum) and the cross product; and nan_to_num."""

from __future__ import annotations

import numpy as np

from lamina.autograd.function import Function
from lamina.ops.distance import VectorNorm


class Einsum(Function):
    """y = einsum(equation, x₁, ..., xₙ): dL/dxₖ = einsum of g with the other operands onto xₖ's subscripts
    (broadcast back over any subscript that only xₖ has, since the forward summed it away)"""

    def forward(self, *operands, equation):
        inputs, _, output = equation.replace(" ", "").partition("->")
        self.inputs = inputs.split(",")
        if len(self.inputs) != len(operands):
            raise ValueError(f"einsum(): {equation!r} names {len(self.inputs)} operands, got {len(operands)}")
        if not _ == "->":
            output = "".join(sorted(c for c in set(inputs) - {","} if inputs.count(c) == 1))
        self.output = output
        for subs in self.inputs:
            if "." in subs or len(set(subs)) != len(subs):
                raise NotImplementedError(f"einsum(): lamina differentiates subscripts without ellipsis or repeated "
                                          f"letters in one operand; got {subs!r}")
        self.save(*operands)
        return np.einsum(f"{inputs}->{output}", *operands)

    def backward(self, g):
        operands = self.saved
        grads = []
        for k, (subs, x) in enumerate(zip(self.inputs, operands)):
            if not self.needs[k]:
                grads.append(None)
                continue
            others = [(s, o) for j, (s, o) in enumerate(zip(self.inputs, operands)) if j != k]
            present = set(self.output).union(*[set(s) for s, _ in others])
            kept = "".join(c for c in subs if c in present)
            spec = ",".join([self.output] + [s for s, _ in others]) + "->" + kept
            part = np.einsum(spec, g, *[o for _, o in others])
            shape = [x.shape[i] if c in present else 1 for i, c in enumerate(subs)]
            grads.append(np.broadcast_to(part.reshape(shape), x.shape).astype(g.dtype, copy=True))
        return tuple(grads)


class Cross(Function):
    """y = a × b along dim (of size 3): dL/da = b × g, dL/db = g × a"""

    def forward(self, a, b, dim):
        self.dim = dim
        self.save(a, b)
        return np.cross(a, b, axis=dim)

    def backward(self, g):
        a, b = self.saved
        ga = np.cross(b, g, axis=self.dim) if self.needs[0] else None
        gb = np.cross(g, a, axis=self.dim) if self.needs[1] else None
        return ga, gb, None


class NanToNum(Function):
    """NaN, +inf and −inf replaced by numbers: dL/dx = g where x is finite, 0 where it was replaced"""

    def forward(self, x, nan, posinf, neginf):
        self.save(x)
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g):
        (x,) = self.saved
        return np.where(np.isfinite(x), g, np.zeros((), g.dtype)), None, None, None


def einsum(equation: str, *operands):
    """``lamina.einsum('ij,jk->ik', a, b)`` (operands may also come as one list), differentiable, as torch.einsum."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return Einsum.apply(*operands, equation=equation)


def cdist(x1, x2, p: float = 2.0):
    """The p-norm distance between each row of x1 (…, P, M) and each row of x2 (…, R, M): (…, P, R), as torch.cdist;
    the gradient of a zero distance is 0."""
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns, got {x1.shape[-1]} and "
                           f"{x2.shape[-1]}")
    return VectorNorm.apply(x1.unsqueeze(-2) - x2.unsqueeze(-3), float(p), -1, False)
