"""Datasets: anything with ``__getitem__`` and ``__len__``, as in ``torch.utils.data``."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from lamina import random as _random
from lamina.tensor import Tensor, as_array, from_numpy


@runtime_checkable
class Dataset(Protocol):
    """A map-style dataset: ``dataset[i]`` is sample i, ``len(dataset)`` the number of samples.

    Subclass it as in PyTorch, or pass any object with these two methods.
    """

    def __getitem__(self, index): ...

    def __len__(self) -> int: ...


class TensorDataset:
    """Samples are rows of the given tensors: ``dataset[i] == (x[i], y[i])``. All must share the first dimension.

    NumPy arrays are accepted and wrapped without a copy (their dtype is kept). A DataLoader gathers
    a whole batch from a TensorDataset with one fancy index per tensor.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else from_numpy(as_array(t)) for t in tensors)
        if any(t.ndim == 0 for t in tensors):
            raise ValueError("TensorDataset: 0-d tensors have no samples; each needs a first (sample) dimension")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} "
                             f"(shapes {shapes}) must be equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset:
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} samples, "
                             f"got range [{self.indices.min()}, {self.indices.max()}]")

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return self.indices.size


class ConcatDataset:
    """The samples of several datasets one after the other, as ``torch.utils.data.ConcatDataset``."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        index %= n
        part = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        return self.datasets[part][index - (self.cumulative_sizes[part - 1] if part else 0)]


def random_split(dataset, lengths, generator=None) -> list[Subset]:
    """Split into non-overlapping random Subsets of the given lengths (ints summing to len(dataset), or
    fractions summing to 1: floor(n·f) each, the remainder dealt one by one to the first splits, as PyTorch)."""
    n = len(dataset)
    lengths = list(lengths)
    if any(length < 0 for length in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if all(isinstance(length, (int, np.integer)) for length in lengths):
        if sum(lengths) != n:
            raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, "
                             f"but the dataset has {n} samples")
    elif math.isclose(sum(lengths), 1.0) and all(length <= 1 for length in lengths):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    else:
        raise ValueError(f"random_split: lengths must be ints summing to {n} or fractions summing to 1, got {lengths}")
    order = _random.rng(generator).permutation(n)
    bounds = np.cumsum(lengths)[:-1]
    return [Subset(dataset, part) for part in np.split(order, bounds)]


def _raw(x) -> np.ndarray:
    """x as NumPy sees it, before lamina's conversions (so that a bad dtype can be named)."""
    return x.array if isinstance(x, Tensor) else x if isinstance(x, np.ndarray) else np.asarray(x)


def as_features(x) -> Tensor:
    """Features as a float32 Tensor (no copy if already float32). Rejects non-numeric data."""
    array = _raw(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"features must be numeric, got an array of dtype {array.dtype}")
    array = as_array(array if isinstance(x, (Tensor, np.ndarray)) else x)
    return from_numpy(array.astype(np.float32, copy=False))


def as_labels(y) -> Tensor:
    """Class labels as an int64 Tensor. Float labels are accepted when they are whole numbers (0.0, 1.0, ...)."""
    array = _raw(y)
    if array.dtype.kind in "biuf":
        array = as_array(array if isinstance(y, (Tensor, np.ndarray)) else y)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError("class labels must be whole numbers; got non-integer values "
                             f"such as {array[array != np.round(array)].ravel()[:3].tolist()}")
    elif array.dtype.kind not in "biu":
        raise TypeError(f"class labels must be integers, got an array of dtype {array.dtype}")
    return from_numpy(array.astype(np.int64, copy=False))
