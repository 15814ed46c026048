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


class Dropout1d(Dropout):
    """In training, zero whole channels of (N, C, L) (or (C, L)) with probability p and scale the rest by
    1/(1 − p): neighbouring positions are correlated, so dropping single values would regularise little."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(Dropout):
    """In training, zero whole feature maps of (N, C, H, W) (or (C, H, W)) with probability p and scale the rest
    by 1/(1 − p)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)
