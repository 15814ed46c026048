"""Ways to create tensors, named as in PyTorch. Floating results are float32 unless dtype says otherwise."""

from __future__ import annotations

import numpy as np

from lamina import random as _random
from lamina.dtypes import check_device, float32
from lamina.tensor import Tensor, _size, as_array, from_numpy


def _new(array, requires_grad=False) -> Tensor:
    t = from_numpy(array)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of data (lists of floats become float32, of ints int64)."""
    check_device(device)
    arr = np.array(as_array(data, dtype), copy=True)
    return _new(arr, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor() but shares memory with an ndarray when no conversion is needed."""
    check_device(device)
    return from_numpy(as_array(data, dtype))


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return _new(np.zeros(_size(size), dtype=dtype or float32), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return _new(np.ones(_size(size), dtype=dtype or float32), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return _new(np.empty(_size(size), dtype=dtype or float32), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else float32
    return _new(np.full(tuple(size), fill_value, dtype=dtype), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return _new(np.eye(n, m, dtype=dtype or float32), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else float32
    return _new(np.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from start to end; an integer dtype truncates them toward zero, as PyTorch."""
    check_device(device)
    dtype = np.dtype(dtype or float32)
    if dtype.kind in "iub":  # the ends become integers first, then each value is truncated toward zero
        return _new(np.linspace(int(start), int(end), steps).astype(dtype), requires_grad)
    return _new(np.linspace(start, end, steps, dtype=dtype), requires_grad)


def rand(*size, dtype=None, generator=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    check_device(device)
    arr = _random.rng(generator).random(_size(size), dtype=np.float32).astype(dtype or float32, copy=False)
    return _new(arr, requires_grad)


def randn(*size, dtype=None, generator=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal."""
    check_device(device)
    arr = _random.rng(generator).standard_normal(_size(size), dtype=np.float32).astype(dtype or float32, copy=False)
    return _new(arr, requires_grad)


def randint(low, high=None, size=(), dtype=None, generator=None, device=None) -> Tensor:
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``, as PyTorch."""
    check_device(device)
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    return _new(_random.rng(generator).integers(low, high, size=tuple(size), dtype=dtype or np.int64))


def randperm(n, generator=None, device=None) -> Tensor:
    check_device(device)
    return _new(_random.rng(generator).permutation(n).astype(np.int64))


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return _new(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return _new(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return _new(np.full(t.shape, fill_value, dtype=dtype or t.dtype), requires_grad)


def rand_like(t: Tensor, dtype=None, generator=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return rand(*t.shape, dtype=dtype or t.dtype, generator=generator, requires_grad=requires_grad)


def randn_like(t: Tensor, dtype=None, generator=None, device=None, requires_grad=False) -> Tensor:
    check_device(device)
    return randn(*t.shape, dtype=dtype or t.dtype, generator=generator, requires_grad=requires_grad)
