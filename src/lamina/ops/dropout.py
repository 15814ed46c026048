"""Inverted dropout: zero each element with probability p and scale the survivors by 1/(1 − p)."""

from __future__ import annotations

import numpy as np

from lamina import random as _random
from lamina.autograd.function import Function


class Dropout(Function):
    """y = x·m with m = keep/(1 − p), keep ~ Bernoulli(1 − p); dy/dx = m"""

    def forward(self, x, p, generator):
        mask = _scaled_mask(x.shape, p, x.dtype, generator)
        self.save(mask)
        return x * mask

    def backward(self, g):
        (mask,) = self.saved
        return g * mask


class FeatureDropout(Dropout):
    """y = x·m with one m = keep/(1 − p) per channel of each sample (the first ``dims`` dims), broadcast over the
    positions: whole feature maps are dropped; dy/dx = m"""

    def forward(self, x, p, dims, generator):
        mask = _scaled_mask(x.shape[:dims] + (1,) * (x.ndim - dims), p, x.dtype, generator)
        self.save(mask)
        return x * mask


def _scaled_mask(shape, p, dtype, generator):
    """keep/(1 − p) with keep ~ Bernoulli(1 − p) (all zeros for p = 1)."""
    keep = _random.rng(generator).random(shape, dtype=np.float32) >= p
    return keep.astype(dtype) * np.asarray(1.0 / (1.0 - p) if p < 1 else 0.0, dtype=dtype)
