"""Checked entry points of the further losses (re-exported by lamina.nn.functional), with PyTorch's signatures
and reductions. A loss with a closed form of its own is a fused op of ops.loss (smooth_l1_loss, kl_div,
gaussian_nll_loss); the others are composed from ordinary ops in the order PyTorch computes them."""

from __future__ import annotations

import math
import warnings

import numpy as np

from lamina.nn.module import LayerInputError
from lamina.ops import activation as _act
from lamina.ops import loss as _loss
from lamina.ops.arithmetic import where
from lamina.tensor import Tensor

__all__ = [
    "smooth_l1_loss", "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
    "margin_ranking_loss", "triplet_margin_loss", "multilabel_soft_margin_loss", "soft_margin_loss",
]


def _base():
    """The package's shared checks (imported late: the package imports this module at its end)."""
    import lamina.nn.functional as F

    return F


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def smooth_l1_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """½(x − y)²/β where |x − y| < β, |x − y| − ½β beyond; β = 0 is the L1 loss."""
    target = _base()._check_pair("smooth_l1_loss", input, target, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return _loss.L1Loss.apply(input, target, reduction)
    return _loss.SmoothL1Loss.apply(input, target, float(beta), reduction)


def kl_div(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL(target ‖ exp(input)) pointwise: target·(log target − input), input being log-probabilities.
    'batchmean' divides the sum by the batch size (the KL divergence); 'mean' by every element, as PyTorch."""
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"kl_div: {reduction!r} is not a valid value for reduction (use 'batchmean', 'mean', "
                         f"'sum' or 'none')")
    target = _base()._check_pair("kl_div", input, target, "none")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    return _loss.KLDivLoss.apply(input, target, bool(log_target), reduction)


def poisson_nll_loss(input: Tensor, target, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """exp(x) − y·x (log_input) or x − y·log(x + eps); full adds Stirling's y·log y − y + ½log(2πy) where y > 1."""
    target = _base()._check_pair("poisson_nll_loss", input, target, reduction)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduced(loss, reduction)


def gaussian_nll_loss(input: Tensor, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """½(log v + (x − y)²/v), v = max(var, eps); var has the input's shape, or one dimension of size 1 (or the
    last one missing) for a variance shared along it, or is a float."""
    F = _base()
    F._check_reduction("gaussian_nll_loss", reduction)
    target = F._as_tensor(target)
    if np.broadcast_shapes(input.shape, target.shape) != input.shape:
        raise ValueError(f"gaussian_nll_loss: target of shape {tuple(target.shape)} does not broadcast to the "
                         f"input's shape {tuple(input.shape)}")
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        var = Tensor._make(np.full(input.shape, var, dtype=input.dtype), False, None)
    var = F._as_tensor(var)
    if (var.array < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (var.ndim == input.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size {tuple(var.shape)} for input of shape "
                             f"{tuple(input.shape)} (expected the input's shape, or it with one dimension 1 or the "
                             f"last one missing)")
    return _loss.GaussianNLLLoss.apply(input, target, var, float(eps), bool(full), reduction)


def _check_dims(name: str, **tensors) -> None:
    if len({t.ndim for t in tensors.values()}) > 1:
        sizes = ", ".join(f"{k}: {tuple(t.shape)}" for k, t in tensors.items())
        raise LayerInputError(name, f"all input tensors should have the same number of dimensions, got {sizes}")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1 (cos with 1e-12 added to each |x|²)."""
    F = _base()
    F._check_reduction("cosine_embedding_loss", reduction)
    target = F._as_tensor(target)
    if target.ndim not in (0, 1):
        raise LayerInputError("cosine_embedding_loss", f"0D or 1D target tensor expected, multi-target not "
                                                       f"supported, got target of shape {tuple(target.shape)}")
    want = target.ndim + 1
    if input1.ndim != want or input2.ndim != want:
        raise LayerInputError("cosine_embedding_loss", f"{target.ndim}D target tensor expects {want}D input tensors, "
                                                       f"but found inputs with sizes {tuple(input1.shape)} and "
                                                       f"{tuple(input2.shape)}")
    d = target.ndim
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + 1e-12
    mag2 = (input2 * input2).sum(d) + 1e-12
    cos = prod / (mag1 * mag2).sqrt()
    y = target.array
    loss = where(y == 1, 1 - cos, 0.0) + where(y == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduced(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, −y·(x1 − x2) + margin)."""
    F = _base()
    F._check_reduction("margin_ranking_loss", reduction)
    target = F._as_tensor(target)
    _check_dims("margin_ranking_loss", input1=input1, input2=input2, target=target)
    return _reduced((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) − d(a, n)), d the pairwise distance; swap uses min(d(a, n), d(p, n))."""
    F = _base()
    F._check_reduction("triplet_margin_loss", reduction)
    _check_dims("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    dist_pos = F.pairwise_distance(anchor, positive, p, eps)
    dist_neg = F.pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = dist_neg.minimum(F.pairwise_distance(positive, negative, p, eps))
    return _reduced((margin + dist_pos - dist_neg).clamp(min=0), reduction)


def multilabel_soft_margin_loss(input: Tensor, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """−(y·log σ(x) + (1 − y)·log σ(−x)), weighted, averaged over the classes (the last dimension)."""
    F = _base()
    target = F._check_pair("multilabel_soft_margin_loss", input, target, reduction)
    loss = -(target * _act.LogSigmoid.apply(input) + (1 - target) * _act.LogSigmoid.apply(-input))
    if weight is not None:
        loss = loss * F._as_tensor(weight)
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduced(loss, reduction)


def soft_margin_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(−y·x))."""
    target = _base()._check_pair("soft_margin_loss", input, target, reduction)
    if target.requires_grad:
        raise RuntimeError("soft_margin_loss is not differentiable with respect to target (as in PyTorch); pass "
                           "target.detach()")
    return _reduced((-input * target).exp().log1p(), reduction)
