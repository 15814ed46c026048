"""Loss functions as modules: ``criterion = CrossEntropyLoss(); loss = criterion(logits, targets)``."""

from __future__ import annotations

import numpy as np

from lamina.nn import functional as F
from lamina.nn.module import Module
from lamina.tensor import Tensor, from_numpy


class _Loss(Module):
    # the targets the loss wants, for fit's (X, y) conversion: 'class' (indices), 'real' (floats) or None (as given)
    target_kind = None

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        F._check_reduction(type(self).__name__, reduction)
        self.reduction = reduction


def _buffer(value):
    """Loss weights are buffers (saved in state_dict, as in PyTorch)."""
    if value is None or isinstance(value, Tensor):
        return value
    return from_numpy(np.asarray(value, dtype=np.float32))


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))


class MSELoss(_Loss):
    """Mean squared error: mean((input − target)²). Input and target must have the same shape."""

    target_kind = "real"

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: mean(|input − target|)."""

    target_kind = "real"

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Squared error for |error| ≤ delta, linear beyond (robust to outliers)."""

    target_kind = "real"

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities (after a sigmoid): −(y·log p + (1 − y)·log(1 − p))."""

    target_kind = "real"

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one numerically stable step, on raw scores.
    pos_weight (one per class, along the last dim) multiplies the loss of positive targets."""

    target_kind = "real"

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax and negative log-likelihood in one stable step, on logits (N, C) (also (C,), (N, C, d1, ...)).
    Targets are class indices (int64) or class probabilities (float, same shape as the input)."""

    target_kind = "class"

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class targets, on log-probabilities (after LogSoftmax)."""

    target_kind = "class"

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)
