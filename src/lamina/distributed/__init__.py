"""Data-parallel training across processes and machines on MPI (mpi4py), in PyTorch's form.

    mpiexec -n 4 python train.py        # or: mpiexec -n 4 lamina train

- ``comm``: the process group (``init``, ``is_initialized``, ``rank``, ``world_size``, ``barrier``) and the
  collectives on lamina tensors, in place on their NumPy buffers (``all_reduce``, ``broadcast``, ``all_gather``,
  and ``broadcast_object_list`` / ``all_gather_object`` for Python objects); failure handling: a rank that
  raises, or a collective that waits past the timeout, aborts the whole job with a message naming the rank.
- ``parallel``: ``DistributedDataParallel`` (gradients averaged over the ranks in flat buckets after backward;
  ``no_sync``) and the ``GradReducer`` it and ``fit`` share.
- ``batchnorm``: ``SyncBatchNorm`` (batch statistics over every rank's batch) and ``convert_sync_batchnorm``.
- ``sampler``: ``DistributedSampler``.
- ``fitting``: what ``fit(..., distributed=True)`` adds to fit (sharded data, averaged gradients and metrics,
  rank 0 alone writing).

mpi4py is imported when a process group is first needed (``init``), never by ``import lamina`` nor by importing
this package; without it, ``init`` says how to install it: ``pip install 'lamina[mpi]'``.
"""

from lamina.distributed.batchnorm import SyncBatchNorm
from lamina.distributed.comm import (
    ReduceOp,
    abort,
    abort_on_error,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    describe,
    get_rank,
    get_world_size,
    init,
    init_process_group,
    is_available,
    is_initialized,
    launched,
    rank,
    world_size,
)
from lamina.distributed.parallel import DistributedDataParallel
from lamina.distributed.sampler import DistributedSampler

convert_sync_batchnorm = SyncBatchNorm.convert_sync_batchnorm

__all__ = ["init", "init_process_group", "is_initialized", "is_available", "launched", "rank", "world_size",
           "get_rank", "get_world_size", "barrier", "all_reduce", "broadcast", "all_gather", "broadcast_object_list",
           "all_gather_object", "ReduceOp", "abort", "abort_on_error", "describe", "DistributedDataParallel",
           "SyncBatchNorm", "convert_sync_batchnorm", "DistributedSampler"]
