"""lamina.nn.functional (import as F): layers and losses as plain functions, with PyTorch's signatures.

Every checked entry point lives here: the functions check their arguments (shapes, dtypes, options), choose the
Function of lamina.ops that computes the result, and apply it; the modules of lamina.nn call them. A bad input
raises LayerInputError under the function's name, which the calling module turns into one naming the layer by
its place in the model.

A package: this file holds the entry points of the dense layers, activations, norms and losses; a layer family
with many entry points of its own (convolution and pooling, recurrence, attention) keeps them in a submodule that
this file re-exports at its end.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from lamina import kernels
from lamina.autograd.grad_mode import no_grad
from lamina.nn.module import LayerInputError
from lamina.ops import dropout as _dropout
from lamina.ops import linalg as _linalg
from lamina.ops import loss as _loss
from lamina.ops import norm as _norm
from lamina.ops import reduce as _reduce
from lamina.ops import shape as _shape
from lamina.ops import unary as _unary
from lamina.tensor import Tensor, as_array, from_numpy

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "elu", "silu", "softplus",
    "dropout", "linear", "batch_norm", "layer_norm", "one_hot", "pad",
    "mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss", "embedding", "embedding_bag",
    "scaled_dot_product_attention", "multi_head_attention_forward",
    # from the submodule conv, imported at the end
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "interpolate", "group_norm", "dropout1d", "dropout2d",
]

REDUCTIONS = ("mean", "sum", "none")


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
    _check_approximate("gelu", approximate)
    return _unary.GELU.apply(input, approximate)


def _check_approximate(owner: str, approximate) -> None:
    """gelu's and nn.GELU's option."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{owner}: approximate must be 'none' or 'tanh', got {approximate!r}")


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
    _check_dropout_probability(p)
    if not training or p == 0.0:
        return input
    return _dropout.Dropout.apply(input, float(p), generator)


def _check_dropout_probability(p) -> None:
    """dropout's and nn.Dropout's p."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x·Wᵀ + b in one graph node; products of at most kernels.TINY multiply-adds take TinyLinear's kernels."""
    x, w = input.array, weight.array
    if not x.ndim or x.shape[-1] != w.shape[-1]:
        raise LayerInputError("linear", f"expected input with {w.shape[-1]} features in the last dimension, "
                                        f"got shape {tuple(x.shape)}")
    if x.dtype is not w.dtype or (bias is not None and bias.array.dtype is not w.dtype):
        _check_linear_dtypes(x.dtype, w.dtype, None if bias is None else bias.array.dtype)
    if kernels.fits_tiny(x, w) and (bias is None or kernels.fits(bias.array)):
        return _linalg.TinyLinear.apply(input, weight, bias)
    return _linalg.Linear.apply(input, weight, bias)


def _check_linear_dtypes(x, w, b) -> None:
    """One dtype for input, weight and bias (``is`` above is quick, but equal dtypes need not be one object)."""
    if x != w:
        raise LayerInputError("linear", f"expected input of dtype {w} (the layer's), got {x}; convert the input "
                                        f"(x.to(lamina.{w})) or the model (model.to(lamina.{x}))")
    if b is not None and b != w:
        raise LayerInputError("linear", f"expected a bias of the weight's dtype {w}, got {b}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of (N, C) or (N, C, L) input.

    In training, use the batch's mean and biased variance, and move the running stats towards the batch's
    mean and unbiased variance: running = (1 − momentum)·running + momentum·batch. Otherwise use the running stats.
    """
    x = input.array
    if x.ndim < 2:
        raise LayerInputError("batch_norm", f"expected input with a channel dimension (N, C, ...), got shape "
                                            f"{tuple(x.shape)}")
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // x.shape[1]
        if n <= 1:
            raise LayerInputError("batch_norm", f"expected more than 1 value per channel when training, got input of "
                                                f"shape {tuple(x.shape)} (use a batch of 2 or more, or call .eval())")
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
        raise LayerInputError("layer_norm", f"expected input with trailing shape {shape}, "
                                            f"got shape {tuple(input.shape)}")
    if (k == 1 and weight is not None and bias is not None and input.size and kernels.fits(input.array)
            and kernels.fits(weight.array, bias.array)):
        return _norm.LastDimLayerNorm.apply(input, weight, bias, k=k, eps=eps)  # one kernel pass each way
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
    return from_numpy((t[..., None] == np.arange(num_classes)).astype(np.int64))


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's order: (left, right) of the last dim first, then of the dim before, and so on. Modes 'constant'
    (with value), 'reflect' (mirror without the edge), 'replicate' (repeat the edge), 'circular' (wrap around)."""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding {pad} must have an even length of at most 2·{x.ndim}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(p < 0 for p in pad):  # a negative width removes that many elements, as in PyTorch
        if mode != "constant":
            raise ValueError(f"pad: negative padding {tuple(pad)} needs mode='constant', got {mode!r}")
        if any(n + min(lo, 0) + min(hi, 0) < 0 for n, (lo, hi) in zip(x.shape, widths)):
            raise LayerInputError("pad", f"padding {tuple(pad)} removes more than the input of shape "
                                         f"{tuple(x.shape)} holds")
        x = x[tuple(slice(-min(lo, 0), n + min(hi, 0)) for n, (lo, hi) in zip(x.shape, widths))]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return _shape.Pad.apply(x, tuple(widths), value)
    for n, (lo, hi) in zip(x.shape, widths):
        if (lo or hi) and (n == 0 or (mode == "reflect" and max(lo, hi) >= n) or (mode == "circular" and
                                                                                 max(lo, hi) > n)):
            limit = {"reflect": "smaller than", "circular": "at most", "replicate": "at most"}[mode]
            raise LayerInputError("pad", f"{mode} padding {(lo, hi)} must be {limit} the size of the dimension it "
                                         f"pads, got input of shape {tuple(x.shape)}")
    return _shape.PadMode.apply(x, tuple(widths), mode)


# -- losses ---------------------------------------------------------------------------------------
def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else from_numpy(as_array(x))


def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: {reduction!r} is not a valid value for reduction (use 'mean', 'sum' or 'none')")


def _check_pair(name, input, target, reduction):
    """Same shape and same floating dtype for input and target (no silent broadcasting)."""
    _check_reduction(name, reduction)
    target = _as_tensor(target)
    if input.shape != target.shape:
        try:
            hint = f"; they would broadcast to {np.broadcast_shapes(input.shape, target.shape)}, silently"
        except ValueError:
            hint = ""
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ"
                         f"{hint}. Reshape one to match the other, e.g. target.reshape{tuple(input.shape)} "
                         f"or input.reshape{tuple(target.shape)}")
    if target.dtype != input.dtype:
        raise ValueError(f"{name}: target has dtype {target.dtype} but input has dtype {input.dtype}; convert the "
                         f"target with target.to({input.dtype}) (e.g. target.float())")
    return target


def _constant(value, dtype):
    """A weight given as Tensor or array-like, as an array of the input's dtype (a constant: no gradient)."""
    if value is None:
        return None
    return np.asarray(value.array if isinstance(value, Tensor) else value, dtype=dtype)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input − target)²)."""
    target = _check_pair("mse_loss", input, target, reduction)
    return _loss.MSELoss.apply(input, target, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean(|input − target|)."""
    target = _check_pair("l1_loss", input, target, reduction)
    return _loss.L1Loss.apply(input, target, reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Quadratic for errors up to delta, linear beyond."""
    target = _check_pair("huber_loss", input, target, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _loss.HuberLoss.apply(input, target, float(delta), reduction)


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities in [0, 1] (after a sigmoid)."""
    target = _check_pair("binary_cross_entropy", input, target, reduction)
    weight = _constant(weight, input.dtype)
    loss = _loss.BinaryCrossEntropy.apply(input, target, weight, reduction)
    # An input outside [0, 1] makes its log NaN, so the inputs are searched only when the loss has a NaN:
    # a min and a max on every call would cost more than the loss itself on small batches.
    if math.isnan(loss.array if reduction != "none" else np.add.reduce(loss.array, axis=None)):
        x = input.array
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"binary_cross_entropy: all elements of input should be between 0 and 1, got values in "
                             f"[{x.min():g}, {x.max():g}]; pass raw scores to binary_cross_entropy_with_logits "
                             f"instead")
    return loss


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step; pos_weight (per class, last dim) weighs positives."""
    target = _check_pair("binary_cross_entropy_with_logits", input, target, reduction)
    weight = _constant(weight, input.dtype)
    pos_weight = _constant(pos_weight, input.dtype)
    for label, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None:
            try:
                np.broadcast_shapes(w.shape, input.shape)
            except ValueError:
                raise ValueError(f"binary_cross_entropy_with_logits: {label} of shape {w.shape} does not broadcast "
                                 f"to the input shape {tuple(input.shape)}") from None
    return _loss.BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


_UNSIGNED = {np.dtype(f"i{n}"): np.dtype(f"u{n}") for n in (1, 2, 4, 8)}


def _check_class_target(name, input, target, weight, ignore_index, allow_probs):
    """Validate class-index (or probability) targets for input (N, C, d1, ...) or (C,)."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    target = _as_tensor(target)
    n_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    index_shape = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    kind = target.dtype.kind
    if kind == "f" and allow_probs and target.shape == input.shape:
        if target.dtype != input.dtype:
            raise ValueError(f"{name}: probability target has dtype {target.dtype} but input has dtype "
                             f"{input.dtype}; convert with target.to({input.dtype})")
    elif kind in "iu" and target.shape == index_shape:
        t = target.array
        # read as unsigned, a negative index is huge, so one max checks both ends of [0, n_classes)
        in_range = t.size == 0 or np.maximum.reduce(t.view(_UNSIGNED.get(t.dtype, t.dtype)), axis=None) < n_classes
        bad = None if in_range else (t != ignore_index) & ((t < 0) | (t >= n_classes))
        if bad is not None and bad.any():
            raise ValueError(f"{name}: target value {t[bad].flat[0]} is out of range for {n_classes} classes "
                             f"(class indices must be in [0, {n_classes - 1}] or equal ignore_index={ignore_index})")
    else:
        accepted = f"class indices (int64) of shape {index_shape}"
        if allow_probs:
            accepted += f" or class probabilities (float) of shape {tuple(input.shape)}"
        hint = ""
        if kind == "f" and target.shape == index_shape:
            hint = "; class-index targets must be integers: use target.long()"
        elif kind in "iu" and target.shape == input.shape:
            hint = "; for one-hot targets pass target.argmax(1), or target.float() as probabilities"
        raise ValueError(f"{name}: expected target as {accepted} for input of shape {tuple(input.shape)}, got "
                         f"target of shape {tuple(target.shape)} and dtype {target.dtype}{hint}")
    if weight is not None:
        weight = _constant(weight, input.dtype)
        if weight.shape != (n_classes,):
            raise ValueError(f"{name}: weight should have shape ({n_classes},), one per class, got {weight.shape}")
    return target, weight


def _with_batch(fn, input, target, reduction):
    """Run a class loss on unbatched input (C,) by adding and removing a batch dimension."""
    if input.ndim > 1:
        return fn(input, target)
    out = fn(input.reshape(1, -1), target.reshape((1,) + target.shape))
    return out.reshape(()) if reduction == "none" else out


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax + negative log-likelihood in one stable step, on logits (N, C), (C,) or (N, C, d1, ...).

    Three Functions: probability targets take SoftCrossEntropy; class indices CrossEntropy, or SmallCrossEntropy
    (two kernel calls) for plain indices on small float32 logits.
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    target, weight = _check_class_target("cross_entropy", input, target, weight, ignore_index, allow_probs=True)
    smoothing = float(label_smoothing)

    def loss(z, t):
        if t.dtype.kind == "f":
            return _loss.SoftCrossEntropy.apply(z, t, weight, smoothing, reduction)
        if (weight is None and not smoothing and reduction != "none" and t.ndim == 1 and z.shape[1] > 0
                and kernels.fits_small(z.array)):
            return _loss.SmallCrossEntropy.apply(z, t, ignore_index, reduction)
        return _loss.CrossEntropy.apply(z, t, weight, ignore_index, smoothing, reduction)

    return _with_batch(loss, input, target, reduction)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class targets, given log-probabilities (after log_softmax)."""
    _check_reduction("nll_loss", reduction)
    target, weight = _check_class_target("nll_loss", input, target, weight, ignore_index, allow_probs=False)
    return _with_batch(lambda x, t: _loss.NLLLoss.apply(x, t, weight, ignore_index, reduction), input, target,
                       reduction)


from lamina.nn.functional.attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402

# the image layers' entry points (convolution, pooling, resampling, group norm, channel dropout): submodule conv
from lamina.nn.functional.conv import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    dropout1d,
    dropout2d,
    fold,
    group_norm,
    interpolate,
    max_pool1d,
    max_pool2d,
    unfold,
)
from lamina.nn.functional.sparse import embedding, embedding_bag  # noqa: E402  (the lookup layers' entry points)

__all__ += ["hardtanh", "relu6", "selu", "celu", "mish", "hardswish", "hardsigmoid", "logsigmoid", "softsign",
            "softmin", "glu", "prelu", "threshold", "tanhshrink", "softshrink", "hardshrink"]
from lamina.nn.functional.activation import (  # noqa: E402  (the further activations' entry points)
    celu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)

__all__ += ["normalize", "cosine_similarity", "pairwise_distance", "smooth_l1_loss", "kl_div", "poisson_nll_loss",
            "gaussian_nll_loss", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
            "multilabel_soft_margin_loss", "soft_margin_loss"]
from lamina.nn.functional.distance import cosine_similarity, normalize, pairwise_distance  # noqa: E402
from lamina.nn.functional.loss import (  # noqa: E402  (the further losses' entry points)
    cosine_embedding_loss,
    gaussian_nll_loss,
    kl_div,
    margin_ranking_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
