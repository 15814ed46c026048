"""DistributedSampler: each rank's share of a dataset, as ``torch.utils.data.distributed.DistributedSampler``."""

from __future__ import annotations

import math

import numpy as np

from lamina.data.sampler import Sampler
from lamina.distributed import comm


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` reads, one epoch's worth.

    With ``shuffle`` the order is a permutation drawn from ``seed + epoch`` (call ``set_epoch(epoch)`` before
    each epoch for a fresh order; every rank draws the same one), else 0, 1, 2, .... Rank r takes every
    num_replicas-th index starting at r. So that every rank gets the same number of samples (unequal shards
    would weight the ranks' gradients unequally), the list is padded by repeating its first indices up to a
    multiple of num_replicas, or with ``drop_last`` cut down to one. As PyTorch's, except that the permutation
    comes from NumPy's generator, not torch's ``randperm``. ``num_replicas`` and ``rank`` default to the job's.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            if not comm.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "lamina.distributed.init() first")
            num_replicas = comm.world_size() if num_replicas is None else num_replicas
            rank = comm.rank() if rank is None else rank
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler needs a dataset with a length, got {type(dataset).__name__}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, int(seed), drop_last, 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                indices = np.concatenate([indices, np.resize(indices, pad)])
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next pass uses (with shuffle: a different permutation each epoch)."""
        self.epoch = int(epoch)
