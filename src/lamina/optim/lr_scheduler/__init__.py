"""Learning-rate schedulers with torch.optim.lr_scheduler's names, semantics and floating-point recurrences.

A scheduler rewrites ``group['lr']`` of its optimizer's parameter groups each time ``step()`` is called
(after ``optimizer.step()``). Like PyTorch, it steps once at construction (``last_epoch`` 0) and most
schedules update the current lr recursively, so values match torch's to the last bit. ``interval`` tells
``fit`` whether a schedule steps per epoch or per batch.

- ``scheduler``: ``LRScheduler``; StepLR, MultiStepLR, ExponentialLR, LinearLR, PolynomialLR, LambdaLR,
  MultiplicativeLR; ReduceLROnPlateau
- ``cyclic``: CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
- ``compose``: SequentialLR, ChainedScheduler
"""

from lamina.optim.lr_scheduler.compose import ChainedScheduler, SequentialLR
from lamina.optim.lr_scheduler.cyclic import CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from lamina.optim.lr_scheduler.scheduler import (
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    ReduceLROnPlateau,
    StepLR,
)

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "PolynomialLR", "LambdaLR",
           "MultiplicativeLR", "ReduceLROnPlateau", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
           "OneCycleLR", "SequentialLR", "ChainedScheduler"]
