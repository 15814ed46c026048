"""Linear (fully connected) layer, Identity, Flatten and Unflatten."""

from __future__ import annotations

import numpy as np

from lamina.nn import functional as F
from lamina.nn import init
from lamina.nn.module import LayerInputError, Module
from lamina.nn.parameter import Parameter
from lamina.tensor import Tensor


class Linear(Module):
    """y = x·Wᵀ + b with W of shape (out_features, in_features); one fused graph node."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        # Stored in Fortran order: Wᵀ is then a C-order array and x·Wᵀ a plain row-major product, which
        # OpenBLAS runs faster than a product with a transposed operand (up to 2x on small layers).
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype or np.float32, order="F"))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype or np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=√5), i.e. weight and bias from U(−1/√fan_in, 1/√fan_in)."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        params = self._parameters  # one lookup instead of two trips through Module.__getattr__
        return F.linear(input, params["weight"], params["bias"])

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one: (N, C, H, W) -> (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        n = input.ndim
        if n and not (-n <= self.start_dim < n and -n <= self.end_dim < n):
            raise LayerInputError(self, f"dims start_dim={self.start_dim}, end_dim={self.end_dim} are out of range "
                                        f"for input of shape {tuple(input.shape)}")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"



class Unflatten(Module):
    """Splits dim into unflattened_size: Unflatten(1, (2, 5)) takes (N, 10) to (N, 2, 5)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        n, sizes = input.ndim, tuple(self.unflattened_size)
        if not -n <= self.dim < n:
            raise LayerInputError(self, f"dim {self.dim} is out of range for input of shape {tuple(input.shape)}")
        size = input.shape[self.dim]
        known = int(np.prod([s for s in sizes if s != -1]))
        if (-1 not in sizes and known != size) or (-1 in sizes and (known == 0 or size % known)):
            raise LayerInputError(self, f"unflattened_size {sizes} does not fit dimension {self.dim} of size {size} "
                                        f"(input of shape {tuple(input.shape)})")
        return input.unflatten(self.dim, sizes)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
