"""Parameter: a tensor that a Module registers as learnable."""

from __future__ import annotations

import numpy as np

from lamina.tensor import Tensor, as_array


class Parameter(Tensor):
    """A leaf tensor with requires_grad=True that Modules collect in ``parameters()``."""

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(as_array(data), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
