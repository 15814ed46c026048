"""Inverted dropout: zero each element with probability p and scale the survivors by 1/(1 − p)."""

from __future__ import annotations

import numpy as np

from lamina import random as _random
from lamina.autograd.function import Function


class Dropout(Function):
    """y = x·m with m = keep/(1 − p), keep ~ Bernoulli(1 − p); dy/dx = m"""

    def forward(self, x, p, generator):
        keep = _random.rng(generator).random(x.shape, dtype=np.float32) >= p
        mask = keep.astype(x.dtype) * np.asarray(1.0 / (1.0 - p) if p < 1 else 0.0, dtype=x.dtype)
        self.save(mask)
        return x * mask

    def backward(self, g):
        (mask,) = self.saved
        return g * mask


class FeatureDropout(Function):
    """y = x·m with one m = keep/(1 − p) per channel of each sample (the first ``dims`` dims), broadcast over the
    positions: whole feature maps are dropped; dy/dx = m"""

    def forward(self, x, p, dims, generator):
        shape = x.shape[:dims] + (1,) * (x.ndim - dims)
        keep = _random.rng(generator).random(shape, dtype=np.float32) >= p
        mask = keep.astype(x.dtype) * np.asarray(1.0 / (1.0 - p) if p < 1 else 0.0, dtype=x.dtype)
        self.save(mask)
        return x * mask

    def backward(self, g):
        (mask,) = self.saved
        return g * mask
