"""Normalisation layers: BatchNorm1d/2d (per channel, over the batch), LayerNorm (per sample) and GroupNorm (per
group of channels of each sample)."""

from __future__ import annotations

import numpy as np

from lamina.nn import functional as F
from lamina.nn.module import LayerInputError, Module
from lamina.nn.parameter import Parameter
from lamina.tensor import Tensor, from_numpy


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; subclasses say which input ranks they take."""

    _ranks: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = np.dtype(dtype or np.float32)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", from_numpy(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", from_numpy(np.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", from_numpy(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        shape = input.shape
        if len(shape) not in self._ranks:
            raise LayerInputError(self, f"expected {self._layout} input, got shape {tuple(shape)}")
        if shape[1] != self.num_features:
            raise LayerInputError(self, f"expected input with {self.num_features} channels in dimension 1, "
                                        f"got shape {tuple(shape)}")
        batch_stats = self.training or self.running_mean is None
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias, batch_stats,
                            factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L): each channel is normalised with the batch's mean and
    variance while training (and running averages of them are kept), with the running averages in eval."""

    _ranks, _layout = (2, 3), "2D or 3D (N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), per channel."""

    _ranks, _layout = (4,), "4D (N, C, H, W)"


class LayerNorm(Module):
    """Normalise each sample over its trailing dims ``normalized_shape``, then scale by γ and shift by β."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = tuple(int(n) for n in shape), eps, elementwise_affine
        dtype = np.dtype(dtype or np.float32)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise each group of num_channels/num_groups channels of each sample over the group's channels and
    positions, then scale and shift each channel (independent of the batch, unlike BatchNorm)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups, got {num_channels} and "
                             f"{num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dtype = np.dtype(dtype or np.float32)
        self.register_parameter("weight", Parameter(np.ones(num_channels, dtype=dtype)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_channels, dtype=dtype)) if affine and bias else None)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise LayerInputError(self, f"expected input with {self.num_channels} channels in dimension 1, "
                                        f"got shape {tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


def _reset_affine(module) -> None:
    """An affine normalisation's scale to 1 and shift to 0 (LayerNorm, GroupNorm), where it has them."""
    if module.weight is not None:
        module.weight.array[...] = 1
    if module.bias is not None:
        module.bias.array[...] = 0
