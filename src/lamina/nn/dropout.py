"""Dropout: randomly silence units while training, a regulariser (identity in eval mode)."""

from __future__ import annotations

from lamina.nn import functional as F
from lamina.nn.module import Module
from lamina.tensor import Tensor


class Dropout(Module):
    """In training, zero each element with probability p and scale the survivors by 1/(1 − p)
    (inverted dropout, so eval needs no rescaling); the identity in eval mode. Masks come from lamina.random."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        F._check_dropout_probability(p)
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
