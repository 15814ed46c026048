"""DataLoader: a dataset in (optionally shuffled) batches, as ``torch.utils.data.DataLoader``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lamina import random as _random
from lamina.data.dataset import Subset, TensorDataset
from lamina.ops.shape import stack
from lamina.tensor import Tensor, from_numpy


def default_collate(batch: list):
    """Stack a list of samples into one batch, keeping the samples' structure.

    Tensors and arrays stack along a new first dimension (dtype kept); Python floats become a float32
    Tensor (lamina's default, where PyTorch gives float64), ints int64, bools bool; strings stay a list;
    tuples and lists collate position by position into a list, dicts key by key, namedtuples field by field.
    """
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray, np.generic)):
        shapes = {np.shape(x) for x in batch}
        if len(shapes) > 1:
            raise ValueError(f"default_collate: samples have different shapes {sorted(shapes)}; they cannot be "
                             "stacked into one batch (pad them, or pass a collate_fn)")
        if any(isinstance(x, Tensor) for x in batch):
            return stack(batch)
        return from_numpy(np.stack(batch))
    if isinstance(elem, (bool, int, float)):
        dtype = np.bool_ if isinstance(elem, bool) else np.int64 if isinstance(elem, int) else np.float32
        return from_numpy(np.array(batch, dtype=dtype))
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, Sequence):
        if len({len(sample) for sample in batch}) > 1:
            raise ValueError("default_collate: samples in the batch have different numbers of fields "
                             f"{sorted({len(sample) for sample in batch})}")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        return type(elem)(*fields) if hasattr(elem, "_fields") else fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}; pass a collate_fn")


def _tensor_rows(dataset):
    """(tensors, index map) when a batch can be gathered by fancy-indexing tensors directly: a TensorDataset,
    possibly inside Subsets (whose __getitem__ is not overridden); else None."""
    index_map = None
    while type(dataset).__getitem__ is Subset.__getitem__:
        index_map = dataset.indices if index_map is None else dataset.indices[index_map]
        dataset = dataset.dataset
    if type(dataset).__getitem__ is TensorDataset.__getitem__:
        return dataset.tensors, index_map
    return None


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``.

    With ``shuffle=True`` each pass draws a fresh order from ``generator`` (a ``lamina.Generator``) or else
    from lamina's global random stream, so ``lamina.manual_seed`` makes the order reproducible.
    ``drop_last`` drops a final batch smaller than ``batch_size``. Batches of a TensorDataset (or a Subset of
    one) are gathered with one fancy index per tensor; other datasets are read sample by sample and
    combined by ``collate_fn`` (default: ``default_collate``).
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True):
        # PyTorch's signature. The worker and memory options are accepted so PyTorch scripts run unchanged:
        # batches are always gathered in this process (one fancy index per tensor is faster than worker
        # processes here), and there is no GPU memory to pin.
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader needs a dataset with __getitem__ and __len__, got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        self.dataset = dataset
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.dataset if self.sampler is None else self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _index_batches(self):
        """The indices of each batch, as int64 arrays."""
        if self.batch_sampler is not None:
            for batch in self.batch_sampler:
                yield np.asarray(batch, dtype=np.int64)
            return
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        else:
            n = len(self.dataset)
            order = _random.rng(self.generator).permutation(n) if self.shuffle else np.arange(n)
        n = order.size
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            yield order[start:start + self.batch_size]

    def __iter__(self):
        rows = _tensor_rows(self.dataset) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        for indices in self._index_batches():
            if rows is not None:
                tensors, index_map = rows
                indices = indices if index_map is None else index_map[indices]
                yield [t[indices] for t in tensors]
            else:
                yield collate([self.dataset[i] for i in indices.tolist()])
