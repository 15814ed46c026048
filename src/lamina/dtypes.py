"""dtypes: NumPy's, under PyTorch's names. Python floats become float32, Python ints int64."""

from __future__ import annotations

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
bool_ = np.dtype(np.bool_)


def dtype_name(dtype) -> str:
    """The name lamina prints for a dtype (``bool``, ``float64``, ...)."""
    return "bool" if dtype == bool_ else np.dtype(dtype).name
