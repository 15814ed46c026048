"""Convolution layers (Conv1d/2d, ConvTranspose1d/2d) and the sliding-block layers Unfold and Fold.

Weights are (out_channels, in_channels/groups, *kernel) for a convolution and (in_channels, out_channels/groups,
*kernel) for a transposed one, initialised as PyTorch's (weights and bias from U(−1/√fan_in, 1/√fan_in)); the
state_dict keys are PyTorch's, ``weight`` and ``bias``. Each forward calls its lamina.nn.functional entry point.
"""

from __future__ import annotations

import numpy as np

from lamina.nn import functional as F
from lamina.nn import init
from lamina.nn.functional.conv import conv_padding, ntuple, transposed_output_padding
from lamina.nn.module import Module
from lamina.nn.parameter import Parameter
from lamina.tensor import Tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared by the convolutions: options as PyTorch keeps them (tuples per spatial dim), weight, bias, init."""

    _dims = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, transposed: bool,
                 output_padding, groups: int, bias: bool, padding_mode: str, dtype=None):
        super().__init__()
        name, d = type(self).__name__, self._dims
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups, got {in_channels} and {groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups, got {out_channels} and {groups}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, d, name, "kernel_size")
        self.stride, self.dilation = ntuple(stride, d, name, "stride"), ntuple(dilation, d, name, "dilation")
        self.transposed, self.output_padding = transposed, ntuple(output_padding, d, name, "output_padding")
        self.padding_mode = padding_mode
        pads = conv_padding(name, padding, self.kernel_size, self.stride, self.dilation)  # checks 'same'
        self.padding = padding if isinstance(padding, str) else ntuple(padding, d, name, "padding")
        # F.pad's order: (lo, hi) of the last dim first
        self._reversed_padding_repeated_twice = [p for lo_hi in reversed(pads) for p in lo_hi]
        shape = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(np.empty(shape + self.kernel_size, dtype=dtype or np.float32))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype or np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=√5), i.e. weight and bias from U(−1/√fan_in, 1/√fan_in)."""
        init.default_layer_init_(self.weight, self.bias)

    def extra_repr(self) -> str:
        d = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _function = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias,
                         padding_mode, dtype)

    def forward(self, input: Tensor) -> Tensor:
        conv = type(self)._function
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): y = W ⋆ x + b, one GEMM over the columns of x's windows."""

    _dims, _function = 1, staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): y = W ⋆ x + b, one GEMM over the columns of x's windows."""

    _dims, _function = 2, staticmethod(F.conv2d)


class _ConvTranspose(_ConvNd):
    _function = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, dtype)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        """``output_size`` picks the output_padding that gives that size (strides > 1 leave a choice)."""
        output_padding = self.output_padding
        if output_size is not None:
            d = self._dims
            output_padding = transposed_output_padding(
                type(self)._function.__name__, tuple(input.shape[-d:]), output_size, self.kernel_size, self.stride,
                self.padding, self.dilation)
        return type(self)._function(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                    self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution (the gradient of Conv1d with respect to its input): upsamples (N, C_in, L)."""

    _dims, _function = 1, staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input): upsamples (N, C_in, H, W)."""

    _dims, _function = 2, staticmethod(F.conv_transpose2d)


class Unfold(Module):
    """im2col: (N, C, H, W) -> (N, C·kh·kw, L), the sliding blocks as columns."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """col2im: (N, C·kh·kw, L) -> (N, C, H, W), the columns summed back where the blocks overlap."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
