"""CosineSimilarity and PairwiseDistance: the distances of lamina.nn.functional as modules."""

from __future__ import annotations

from lamina.nn import functional as F
from lamina.nn.module import Module
from lamina.tensor import Tensor


class CosineSimilarity(Module):
    """Σ (x1/max(‖x1‖, eps))·(x2/max(‖x2‖, eps)) along dim."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """‖x1 − x2 + eps‖ₚ along the last dimension."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
