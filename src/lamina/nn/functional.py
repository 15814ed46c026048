"""lamina.nn.functional (import as F): layers and losses as plain functions, with PyTorch's signatures."""

from __future__ import annotations

import warnings

import numpy as np

from lamina.autograd.grad_mode import no_grad
from lamina.ops import dropout as _dropout
from lamina.ops import norm as _norm
from lamina.ops import reduce as _reduce
from lamina.ops import unary as _unary
from lamina.ops.linalg import linear
from lamina.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
)
from lamina.ops.shape import pad
from lamina.tensor import Tensor

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "elu", "silu", "softplus",
    "dropout", "linear", "batch_norm", "layer_norm", "one_hot", "pad",
    "mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss",
]


# -- activations --------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(0, x). ``inplace`` is accepted for PyTorch compatibility; the result is always a new tensor."""
    return _unary.ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope·x."""
    return _unary.LeakyReLU.apply(input, negative_slope)


def sigmoid(input: Tensor) -> Tensor:
    """1/(1 + e⁻ˣ)."""
    return _unary.Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    return _unary.Tanh.apply(input)


def _softmax_dim(name: str, dim, ndim: int) -> int:
    if dim is None:  # PyTorch's legacy rule, with its warning
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                      "as an argument.", stacklevel=3)
        dim = 0 if ndim in (0, 1, 3) else 1
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """e^(xᵢ)/Σⱼ e^(xⱼ) along dim."""
    return _reduce.Softmax.apply(input, dim=_softmax_dim("softmax", dim, input.ndim))


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """log softmax(x) along dim, computed stably."""
    return _reduce.LogSoftmax.apply(input, dim=_softmax_dim("log_softmax", dim, input.ndim))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x) (approximate='tanh' uses the tanh approximation)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _unary.GELU.apply(input, approximate)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else α·(eˣ − 1)."""
    return _unary.ELU.apply(input, alpha)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x·σ(x) (also called swish)."""
    return _unary.SiLU.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/β)·log(1 + e^(βx)), linear where βx > threshold."""
    return _unary.Softplus.apply(input, beta, threshold)


# -- regularisation and normalisation -----------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None) -> Tensor:
    """Inverted dropout: in training zero each element with probability p and scale the rest by 1/(1 − p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    return _dropout.Dropout.apply(input, float(p), generator)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of (N, C) or (N, C, L) input.

    In training, use the batch's mean and biased variance, and move the running stats towards the batch's
    mean and unbiased variance: running = (1 − momentum)·running + momentum·batch. Otherwise use the running stats.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input with a channel dimension (N, C, ...), got shape {input.shape}")
    x = input.array
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // x.shape[1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        if running_mean is not None:
            with no_grad():
                running_mean.array *= 1 - momentum
                running_mean.array += momentum * mean
        if running_var is not None:
            with no_grad():
                running_var.array *= 1 - momentum
                running_var.array += (momentum * n / (n - 1)) * var
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        mean, var = running_mean.array, running_var.array
    return _norm.BatchNorm.apply(input, weight, bias, mean, var, eps=eps, batch_stats=training)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its trailing dims ``normalized_shape`` (mean 0, variance 1), then scale and shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if input.shape[input.ndim - k:] != shape or input.ndim < k:
        raise ValueError(f"layer_norm: expected input with trailing shape {shape}, got shape {tuple(input.shape)}")
    return _norm.LayerNorm.apply(input, weight, bias, k=k, eps=eps)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices of any shape -> int64 one-hot vectors along a new last dimension."""
    t = tensor.array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if t.dtype.kind not in "iu":
        raise ValueError(f"one_hot: expected integer class indices, got dtype {t.dtype}")
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes - 1}], got values in [{t.min()}, "
                         f"{t.max()}]")
    return Tensor._make((t[..., None] == np.arange(num_classes)).astype(np.int64), False, None)
