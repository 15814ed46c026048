"""Checked entry points of the activations beyond the classic ones (re-exported by lamina.nn.functional), with
PyTorch's names, signatures and defaults. ``inplace`` is accepted for PyTorch compatibility; the result is always a
new tensor."""

from __future__ import annotations

from lamina.nn.module import LayerInputError
from lamina.ops import activation as _act
from lamina.ops import reduce as _reduce
from lamina.tensor import Tensor

__all__ = [
    "hardtanh", "relu6", "selu", "celu", "mish", "hardswish", "hardsigmoid", "logsigmoid", "softsign", "softmin",
    "glu", "prelu", "threshold", "tanhshrink", "softshrink", "hardshrink",
]


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val); the gradient is 0 at and beyond the two ends."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _act.Hardtanh.apply(input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(0, x), 6): hardtanh(x, 0, 6)."""
    return _act.Hardtanh.apply(input, 0.0, 6.0)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale·(x if x > 0 else α·(eˣ − 1)), with SELU's fixed α ≈ 1.6733 and scale ≈ 1.0507."""
    return _act.ScaledELU.apply(input, _act.SELU_SCALE, _act.SELU_ALPHA, 1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else α·(e^(x/α) − 1)."""
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0 (it divides the input)")
    return _act.ScaledELU.apply(input, 1.0, alpha, alpha)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·tanh(softplus(x))."""
    return _act.Mish.apply(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·relu6(x + 3)/6."""
    return _act.Hardswish.apply(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3)/6."""
    return _act.Hardsigmoid.apply(input)


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x) = −softplus(−x), computed stably."""
    return _act.LogSigmoid.apply(input)


def softsign(input: Tensor) -> Tensor:
    """x/(1 + |x|)."""
    return _act.Softsign.apply(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x − tanh(x)."""
    return _act.Tanhshrink.apply(input)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(−x) along dim."""
    from lamina.nn.functional import _softmax_dim  # cycle: the package imports this module at its end

    x = input if dtype is None else input.to(dtype)
    return _reduce.Softmax.apply(-x, dim=_softmax_dim("softmin", dim, input.ndim))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a·σ(b), where a and b are the first and second half of the input along dim."""
    if input.ndim == 0:
        raise LayerInputError("glu", "glu does not support scalars because halving size must be even")
    if not -input.ndim <= dim < input.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for a tensor with {input.ndim} dimensions")
    dim %= input.ndim
    if input.shape[dim] % 2:
        raise LayerInputError("glu", f"halving dimension must be even, but dimension {dim} is size "
                                     f"{input.shape[dim]} (input of shape {tuple(input.shape)})")
    return _act.GLU.apply(input, dim)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else w·x, with one learnable slope per channel (dim 1) or one for all (input of fewer than 2 dims
    has one channel)."""
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.ndim > 1:
        raise LayerInputError("prelu", f"weight must be 0-d or 1-d, got shape {tuple(weight.shape)}")
    if weight.numel() != 1 and weight.numel() != channels:
        raise LayerInputError("prelu", f"mismatch of parameter numbers and input channel size: {weight.numel()} "
                                       f"slopes for {channels} channels (input of shape {tuple(input.shape)}); "
                                       f"use num_parameters=1 or the number of channels")
    return _act.PReLU.apply(input, weight)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x if x > threshold else value."""
    return _act.Threshold.apply(input, threshold, value)


def _check_lambd(name: str, lambd) -> None:
    if lambd < 0:
        raise ValueError(f"{name}: lambda must be greater or equal to 0, but found to be {lambd}")


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x − λ above λ, x + λ below −λ, 0 in between."""
    _check_lambd("softshrink", lambd)
    return _act.Softshrink.apply(input, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x outside [−λ, λ], 0 inside."""
    return _act.Hardshrink.apply(input, lambd)
