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


uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)


def cpu_only(name: str) -> RuntimeError:
    """The error for asking lamina to use a GPU or another device."""
    return RuntimeError(f"lamina runs on the CPU only: there is no device {name!r}. Use 'cpu' (or leave the device "
                        "out); lamina.cuda.is_available() is False")


class device:
    """``lamina.device('cpu')``, as ``torch.device``. lamina computes on the CPU only, so 'cpu' is the one device
    there is; asking for another ('cuda', 'mps', ...) raises a RuntimeError that says so."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        name = str(type)
        if name.split(":")[0] != "cpu":
            raise cpu_only(name)
        self.type, self.index = "cpu", index

    def __eq__(self, other):
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self):
        return hash("cpu")

    def __str__(self):
        return "cpu"

    def __repr__(self):
        return "device(type='cpu')"


def check_device(d) -> None:
    """Refuse any device but the CPU (None means the default, the CPU)."""
    if d is not None:
        device(d)
