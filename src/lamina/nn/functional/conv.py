"""Checked entry points of the image layers: convolutions, pooling, unfold/fold, interpolation, group norm and
channel dropout, with PyTorch's signatures. Re-exported by lamina.nn.functional.

Each function checks its input (rank, channels, sizes, options) once, turns the options into the explicit
geometry the op takes (tuples per spatial dim, padding as (lo, hi) pairs) and applies one Function of
lamina.ops.conv, ops.pool, ops.norm or ops.dropout. Inputs are batched (N, C, *size) or unbatched (C, *size).
A bad input raises LayerInputError under the function's name; the calling module names itself in it.
"""

from __future__ import annotations

import warnings

import numpy as np

from lamina.nn.module import LayerInputError
from lamina.ops import conv as _conv
from lamina.ops import dropout as _dropout
from lamina.ops import norm as _norm
from lamina.ops import pool as _pool
from lamina.tensor import Tensor, from_numpy

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "interpolate", "group_norm", "dropout1d", "dropout2d",
]


# -- arguments --------------------------------------------------------------------------------------------------
def ntuple(value, d: int, owner: str, what: str) -> tuple:
    """An int or a sequence of d ints, as a tuple of d ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * d
    try:
        t = tuple(int(v) for v in value)
    except TypeError:
        t = ()
    if len(t) != d:
        raise ValueError(f"{owner}: {what} must be an int or a tuple of {d} ints, got {value!r}")
    return t


def _positive(owner, what, values, minimum=1):
    if any(v < minimum for v in values):
        raise ValueError(f"{owner}: {what} must be {'positive' if minimum else 'non-negative'}, got {values}")


def _check_rank(name, x, d) -> bool:
    """(C, *size) or (N, C, *size); returns whether the input is batched."""
    if x.ndim not in (d + 1, d + 2):
        raise LayerInputError(name, f"expected {d + 1}D (unbatched) or {d + 2}D (batched) input, got shape "
                                    f"{tuple(x.shape)}")
    return x.ndim == d + 2


def _check_dtype(name, x, w, b):
    if x.dtype != w.dtype:
        raise LayerInputError(name, f"expected input of dtype {w.dtype} (the layer's), got {x.dtype}; convert the "
                                    f"input (x.to(lamina.{w.dtype})) or the model (model.to(lamina.{x.dtype}))")
    if b is not None and b.dtype != w.dtype:
        raise LayerInputError(name, f"expected a bias of the weight's dtype {w.dtype}, got {b.dtype}")


def _batched(fn, x, batched):
    """Run fn on (N, C, ...) input: unbatched input gets a batch dim of 1 for the op, removed from the result."""
    if batched:
        return fn(x)
    return fn(x.unsqueeze(0)).squeeze(0)


def conv_padding(owner, padding, kernel, stride, dilation) -> tuple:
    """((lo, hi), ...) from an int, a tuple, 'valid' or 'same' (whose odd total goes to the high side, as PyTorch)."""
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding != "same":
            raise ValueError(f"{owner}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
        if any(s != 1 for s in stride):
            raise ValueError(f"{owner}: padding='same' is not supported for strided convolutions (stride={stride})")
        totals = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    pads = ntuple(padding, d, owner, "padding")
    _positive(owner, "padding", pads, minimum=0)
    return tuple((p, p) for p in pads)


# -- convolutions -----------------------------------------------------------------------------------------------
def _convnd(name, d, input, weight, bias, stride, padding, dilation, groups):
    batched = _check_rank(name, input, d)
    if weight.ndim != d + 2:
        raise ValueError(f"{name}: expected a weight of shape (out_channels, in_channels/groups, *kernel) with "
                         f"{d + 2} dims, got {tuple(weight.shape)}")
    stride, dilation = ntuple(stride, d, name, "stride"), ntuple(dilation, d, name, "dilation")
    _positive(name, "stride", stride)
    _positive(name, "dilation", dilation)
    if groups < 1 or weight.shape[0] % groups:
        raise ValueError(f"{name}: groups={groups} must be positive and divide out_channels={weight.shape[0]}")
    channels, expected = input.shape[-d - 1], weight.shape[1] * groups
    if channels != expected:
        raise LayerInputError(name, f"expected {expected} input channels, got {channels} (input of shape "
                                    f"{tuple(input.shape)})")
    _check_dtype(name, input, weight, bias)
    kernel = tuple(weight.shape[2:])
    pads = conv_padding(name, padding, kernel, stride, dilation)
    size = tuple(input.shape[-d:])
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, pads))
    extent = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    if any(p < e for p, e in zip(padded, extent)):
        raise LayerInputError(name, f"input of spatial size {size} (padded: {padded}) is smaller than the "
                                    f"{'dilated ' if any(dl > 1 for dl in dilation) else ''}kernel {extent}")
    return _batched(lambda x: _conv.Convolution.apply(x, weight, bias, stride=stride, padding=pads,
                                                      dilation=dilation, groups=groups), input, batched)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) of (N, C_in, L) with weight (C_out, C_in/groups, k): one GEMM."""
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of (N, C_in, H, W) with weight (C_out, C_in/groups, kh, kw): one GEMM."""
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def transposed_output_padding(owner, size, output_size, kernel, stride, padding, dilation) -> tuple:
    """The output_padding that makes a transposed convolution's output ``output_size`` (PyTorch's rule)."""
    d = len(kernel)
    output_size = tuple(int(n) for n in output_size)[-d:]
    smallest = _conv.transposed_size(size, kernel, stride, padding, (0,) * d, dilation)
    extra = tuple(o - m for o, m in zip(output_size, smallest))
    if len(output_size) != d or any(e < 0 or e >= s for e, s in zip(extra, stride)):
        largest = tuple(m + s - 1 for m, s in zip(smallest, stride))
        raise LayerInputError(owner, f"requested an output size of {output_size}, but valid sizes range from "
                                     f"{smallest} to {largest} (for an input of spatial size {size})")
    return extra


def _conv_transposend(name, d, input, weight, bias, stride, padding, output_padding, groups, dilation):
    batched = _check_rank(name, input, d)
    if weight.ndim != d + 2:
        raise ValueError(f"{name}: expected a weight of shape (in_channels, out_channels/groups, *kernel) with "
                         f"{d + 2} dims, got {tuple(weight.shape)}")
    stride, dilation = ntuple(stride, d, name, "stride"), ntuple(dilation, d, name, "dilation")
    padding, output_padding = ntuple(padding, d, name, "padding"), ntuple(output_padding, d, name, "output_padding")
    _positive(name, "stride", stride)
    _positive(name, "dilation", dilation)
    _positive(name, "padding", padding, minimum=0)
    if groups < 1 or weight.shape[0] % groups:
        raise ValueError(f"{name}: groups={groups} must be positive and divide in_channels={weight.shape[0]}")
    if any(op < 0 or op >= max(s, dl) for op, s, dl in zip(output_padding, stride, dilation)):
        raise ValueError(f"{name}: output padding must be smaller than either stride or dilation, got "
                         f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    channels = input.shape[-d - 1]
    if channels != weight.shape[0]:
        raise LayerInputError(name, f"expected {weight.shape[0]} input channels, got {channels} (input of shape "
                                    f"{tuple(input.shape)})")
    _check_dtype(name, input, weight, bias)
    kernel, size = tuple(weight.shape[2:]), tuple(input.shape[-d:])
    out = _conv.transposed_size(size, kernel, stride, padding, output_padding, dilation)
    if any(o < 1 for o in out):
        raise LayerInputError(name, f"output size {out} is below 1 for input of spatial size {size}")
    return _batched(lambda x: _conv.ConvTranspose.apply(x, weight, bias, stride=stride, padding=padding,
                                                        output_padding=output_padding, dilation=dilation,
                                                        groups=groups), input, batched)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 1-D convolution (the gradient of conv1d with respect to its input), weight (C_in, C_out/g, k)."""
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 2-D convolution (the gradient of conv2d with respect to its input), weight (C_in, C_out/g, kh, kw)."""
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def _blocks(name, size, kernel, stride, pads, dilation):
    out = tuple((n + lo + hi - dl * (k - 1) - 1) // s + 1
                for n, k, s, (lo, hi), dl in zip(size, kernel, stride, pads, dilation))
    if any(o < 1 for o in out):
        raise LayerInputError(name, f"input of spatial size {size} is smaller than the kernel {kernel} (with "
                                    f"padding {tuple(p for p, _ in pads)} and dilation {dilation})")
    return out


def _sliding_args(name, kernel_size, dilation, padding, stride):
    kernel, dilation = ntuple(kernel_size, 2, name, "kernel_size"), ntuple(dilation, 2, name, "dilation")
    padding, stride = ntuple(padding, 2, name, "padding"), ntuple(stride, 2, name, "stride")
    for what, v in (("kernel_size", kernel), ("dilation", dilation), ("stride", stride)):
        _positive(name, what, v)
    _positive(name, "padding", padding, minimum=0)
    return kernel, dilation, tuple((p, p) for p in padding), stride


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: (N, C, H, W) -> (N, C·kh·kw, L), one column per sliding block."""
    batched = _check_rank("unfold", input, 2)
    kernel, dilation, pads, stride = _sliding_args("unfold", kernel_size, dilation, padding, stride)
    _blocks("unfold", tuple(input.shape[-2:]), kernel, stride, pads, dilation)
    return _batched(lambda x: _conv.Unfold.apply(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation),
                    input, batched)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im: (N, C·kh·kw, L) -> (N, C, H, W), summing the blocks where they overlap."""
    if input.ndim not in (2, 3):
        raise LayerInputError("fold", f"expected 2D (unbatched) or 3D (batched) input, got shape {tuple(input.shape)}")
    size = ntuple(output_size, 2, "fold", "output_size")
    kernel, dilation, pads, stride = _sliding_args("fold", kernel_size, dilation, padding, stride)
    k = kernel[0] * kernel[1]
    blocks = _blocks("fold", size, kernel, stride, pads, dilation)
    rows, cols = input.shape[-2:]
    if rows % k or cols != blocks[0] * blocks[1]:
        raise LayerInputError("fold", f"expected input of shape (N, C·{k}, {blocks[0] * blocks[1]}) for "
                                      f"output_size={size}, kernel_size={kernel}, got {tuple(input.shape)}")
    return _batched(lambda x: _conv.Fold.apply(x, size=size, kernel=kernel, stride=stride, padding=pads,
                                               dilation=dilation), input, input.ndim == 3)


# -- pooling ----------------------------------------------------------------------------------------------------
def _pool_args(name, d, input, kernel_size, stride, padding, dilation, ceil_mode):
    _check_rank(name, input, d)
    kernel = ntuple(kernel_size, d, name, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else ntuple(
        stride, d, name, "stride")
    padding, dilation = ntuple(padding, d, name, "padding"), ntuple(dilation, d, name, "dilation")
    for what, v in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        _positive(name, what, v)
    _positive(name, "padding", padding, minimum=0)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise LayerInputError(name, f"pad should be at most half of kernel size, but got padding={padding} and "
                                    f"kernel_size={kernel}")
    size = tuple(input.shape[-d:])
    out = tuple(_pool.pooled_size(n, k, s, p, dl, ceil_mode)
                for n, k, s, p, dl in zip(size, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        raise LayerInputError(name, f"input of spatial size {size} is too small for kernel_size={kernel} "
                                    f"(dilation={dilation}, padding={padding}): the output size would be {out}")
    return size, kernel, stride, padding, dilation, out


def _max_pool(name, d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    size, kernel, stride, padding, dilation, out = _pool_args(name, d, input, kernel_size, stride, padding,
                                                              dilation, ceil_mode)
    pads = _pool.pool_padding(size, kernel, stride, padding, dilation, out)
    y = _pool.MaxPool.apply(input, kernel=kernel, stride=stride, padding=pads, dilation=dilation, out=out)
    if not return_indices:
        return y
    # the op keeps its argmax for backward only; the indices are found again here, when asked for
    arg = _pool.window_argmax(input.array, kernel, stride, pads, dilation, out)[1]
    return y, from_numpy(_pool.max_indices(arg, size, kernel, stride, pads, dilation))


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, L); ties send the gradient to the first maximum."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, H, W); ties send the gradient to the first maximum."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(name, d, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    size, kernel, stride, padding, dilation, out = _pool_args(name, d, input, kernel_size, stride, padding, 1,
                                                              ceil_mode)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{name}: divisor_override must not be zero")
        divisor = np.asarray(divisor_override, dtype=input.dtype)
    else:
        divisor = _pool.avg_divisor(size, kernel, stride, tuple((p, p) for p in padding), out, count_include_pad,
                                    input.dtype)
    pads = _pool.pool_padding(size, kernel, stride, padding, dilation, out)
    return _pool.AvgPool.apply(input, kernel=kernel, stride=stride, padding=pads, out=out, divisor=divisor)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of (N, C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of (N, C, H, W) (or the window sum / divisor_override)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_size(name, d, input, output_size):
    _check_rank(name, input, d)
    size = tuple(input.shape[-d:])
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * d
    if len(output_size) != d:
        raise ValueError(f"{name}: output_size must be an int or a tuple of {d}, got {output_size!r}")
    out = tuple(n if o is None else int(o) for n, o in zip(size, output_size))
    if any(n < 1 for n in size) or any(o < 1 for o in out):
        raise LayerInputError(name, f"expected input with non-empty spatial dims and an output size of at least 1, "
                                    f"got input of shape {tuple(input.shape)} and output_size={out}")
    return size, out


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over L/o-wide windows that cover (N, C, L) with o outputs."""
    size, out = _adaptive_size("adaptive_avg_pool1d", 1, input, output_size)
    return _pool.AxisMaps.apply(input, maps=tuple(map(_pool.adaptive_avg_matrix, size, out)))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over the windows that cover (N, C, H, W) with output_size outputs: y = A_h·x·A_wᵀ."""
    size, out = _adaptive_size("adaptive_avg_pool2d", 2, input, output_size)
    return _pool.AxisMaps.apply(input, maps=tuple(map(_pool.adaptive_avg_matrix, size, out)))


def _adaptive_max(name, d, input, output_size, return_indices):
    _, out = _adaptive_size(name, d, input, output_size)
    y = _pool.AdaptiveMaxPool.apply(input, out=out)
    if return_indices:
        return y, from_numpy(_pool.adaptive_max_indices(input.array, out))
    return y


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over the windows that cover (N, C, L) with output_size outputs."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over the windows that cover (N, C, H, W) with output_size outputs."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


# -- resampling, normalisation, dropout -------------------------------------------------------------------------
_INTERPOLATION = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2}


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, L) or (N, C, H, W): 'nearest', 'nearest-exact', 'linear', 'bilinear'."""
    if mode not in _INTERPOLATION:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (use one of {list(_INTERPOLATION)})")
    d = input.ndim - 2
    if d not in (1, 2) or (_INTERPOLATION[mode] not in (None, d)):
        raise LayerInputError("interpolate", f"mode {mode!r} got input of shape {tuple(input.shape)}: expected "
                                             f"{'3D (N, C, L)' if mode == 'linear' else '4D (N, C, H, W)'} input")
    linear = _INTERPOLATION[mode] is not None
    if align_corners is not None and not linear:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: linear, "
                         "bilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor should be defined")
    n = tuple(input.shape[2:])
    if size is not None:
        out, scales = ntuple(size, d, "interpolate", "size"), (None,) * d
    else:
        scales = tuple(float(s) for s in (scale_factor if isinstance(scale_factor, (tuple, list))
                                          else (scale_factor,) * d))
        if len(scales) != d:
            raise ValueError(f"interpolate: scale_factor must be a float or a tuple of {d}, got {scale_factor!r}")
        out = tuple(int(np.floor(m * s)) for m, s in zip(n, scales))
        if recompute_scale_factor:
            scales = (None,) * d
    if any(o < 1 for o in out):
        raise LayerInputError("interpolate", f"output size {out} is below 1 for input of shape {tuple(input.shape)}")
    maps = tuple(_pool.interpolation_matrix(m, o, "linear" if linear else mode, bool(align_corners), s)
                 for m, o, s in zip(n, out, scales))
    return _pool.AxisMaps.apply(input, maps=maps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each group of channels of each sample (mean 0, variance 1), then scale and shift per channel."""
    if input.ndim < 2:
        raise LayerInputError("group_norm", f"expected input of shape (N, C, ...), got shape {tuple(input.shape)}")
    channels = input.shape[1]
    if channels % num_groups:
        raise LayerInputError("group_norm", f"expected a number of channels divisible by num_groups={num_groups}, "
                                            f"got input of shape {tuple(input.shape)}")
    if weight is not None and weight.shape != (channels,):
        raise LayerInputError("group_norm", f"expected input with {weight.shape[0]} channels, got input of shape "
                                            f"{tuple(input.shape)}")
    return _norm.GroupNorm.apply(input, weight, bias, groups=num_groups, eps=eps)


def _feature_dropout(name, ranks, input, p, training):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in ranks:
        raise LayerInputError(name, f"expected {ranks[0]}D (unbatched) or {ranks[1]}D (batched) input, got shape "
                                    f"{tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    return _dropout.FeatureDropout.apply(input, float(p), dims=input.ndim - ranks[0] + 1, generator=None)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) with probability p (scaling the others by 1/(1 − p)) in training."""
    return _feature_dropout("dropout1d", (2, 3), input, p, training)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) with probability p (scaling the others by 1/(1 − p)) in training.
    3-D input is taken as (N, C, L), with PyTorch's warning."""
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", stacklevel=2)
        return _feature_dropout("dropout2d", (2, 3), input, p, training)
    return _feature_dropout("dropout2d", (3, 4), input, p, training)
