"""DistributedDataParallel: one model replica per process, gradients averaged across processes after backward.

The gradients travel in a few flat buffers ("buckets", up to ``bucket_cap_mb`` each, filled from the last
parameter to the first as PyTorch's, since the last layers' gradients are ready first): one ``Allreduce`` per
bucket instead of one per parameter, because every MPI call costs a latency of its own. lamina's backward
accumulates the leaves' ``.grad`` at the end of the sweep, so the buckets are reduced one after the other once
backward has finished: there is no overlap of communication with the backward pass to gain.
"""

from __future__ import annotations

import contextlib

import numpy as np

from lamina.distributed import comm
from lamina.nn.module import Module
from lamina.tensor import Tensor


def _order(arr: np.ndarray) -> str:
    """The memory order to flatten ``arr`` in without a copy ('F' for Linear's column-major weights)."""
    return "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"


class GradReducer:
    """Averages the ``.grad`` of ``params`` over all ranks through flat buckets of at most ``bucket_cap_mb`` MB.

    ``reduce(extra)`` reduces every bucket (``extra``, a small float array, rides along in the last one and comes
    back summed over the ranks: the training loop's stop flag travels that way at no extra cost).
    A parameter without a gradient on some rank counts as zeros there, and gets the average on every rank.
    """

    def __init__(self, params, bucket_cap_mb: float = 25.0):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("DistributedDataParallel: the model has no parameter that requires grad")
        dtypes = {p.array.dtype for p in self.params}
        if len(dtypes) > 1:
            raise TypeError("DistributedDataParallel: all parameters must share one dtype, got "
                            f"{sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        cap = max(1, int(bucket_cap_mb * 2**20) // self.dtype.itemsize)
        self.buckets: list[list] = []  # lists of parameter indices, last parameters first
        size = 0
        for i in reversed(range(len(self.params))):
            n = self.params[i].array.size
            if not self.buckets or size + n > cap:
                self.buckets.append([])
                size = 0
            self.buckets[-1].append(i)
            size += n
        self.bucket_of = {i: b for b, bucket in enumerate(self.buckets) for i in bucket}
        self.flat = [np.empty(sum(self.params[i].array.size for i in bucket) + 8, dtype=self.dtype)
                     for bucket in self.buckets]

    def reduce_bucket(self, b: int, extra: np.ndarray | None = None) -> None:
        flat, offset = self.flat[b], 0
        for i in self.buckets[b]:
            p = self.params[i]
            n = p.array.size
            if p.grad is None:
                flat[offset:offset + n] = 0
            else:
                g = p.grad.array
                flat[offset:offset + n] = g.reshape(-1, order=_order(g))
            offset += n
        k = 0 if extra is None else extra.size
        if extra is not None:
            flat[offset:offset + k] = extra
        view = flat[:offset + k]
        comm.all_reduce_array(view, comm.ReduceOp.SUM)
        view[:offset] *= np.asarray(1 / comm.world_size(), dtype=self.dtype)
        offset = 0
        for i in self.buckets[b]:
            p = self.params[i]
            n = p.array.size
            if p.grad is None:
                p.grad = Tensor._make(np.zeros_like(p.array), False, None)
            g = p.grad.array
            g[...] = flat[offset:offset + n].reshape(g.shape, order=_order(g))
            offset += n
        if extra is not None:
            extra[...] = flat[offset:offset + k]

    def reduce(self, extra: np.ndarray | None = None) -> None:
        if comm.world_size() == 1:  # nothing to average (and ``extra`` is its own sum)
            return
        for b in range(len(self.buckets)):
            self.reduce_bucket(b, extra if b == len(self.buckets) - 1 else None)


def broadcast_state(module: Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank, after checking that every rank's model has the
    same parameter and buffer names and shapes (a mismatch raises, naming the entries)."""
    entries = [(n, t) for n, t in list(module.named_parameters()) + list(module.named_buffers()) if t is not None]
    mine = [(n, tuple(t.shape), str(t.dtype)) for n, t in entries]
    everyone = [None] * comm.world_size()
    comm.all_gather_object(everyone, mine)
    for r, theirs in enumerate(everyone):
        if theirs != everyone[src]:
            raise ValueError(f"DistributedDataParallel: rank {r}'s model differs from rank {src}'s: "
                             f"{_difference(everyone[src], theirs, src, r)}")
    for _, t in entries:
        comm.broadcast_array(t.array, src)


def _difference(a: list, b: list, ra: int, rb: int) -> str:
    da, db = {n: (s, d) for n, s, d in a}, {n: (s, d) for n, s, d in b}
    wrong = [f"{n}: shape {da[n][0]} on rank {ra}, {db[n][0]} on rank {rb}" for n in da if n in db and da[n] != db[n]]
    wrong += [f"{n} only on rank {ra}" for n in da if n not in db]
    wrong += [f"{n} only on rank {rb}" for n in db if n not in da]
    return "; ".join(wrong[:10]) + (f" (and {len(wrong) - 10} more)" if len(wrong) > 10 else "")


class DistributedDataParallel(Module):
    """Data-parallel training of ``module`` across the processes of an MPI job, in PyTorch's form:

        model = DistributedDataParallel(net)      # rank 0's weights and buffers go to every rank
        loss_fn(model(x_shard), y_shard).backward()  # afterwards every p.grad holds the average over the ranks
        optimizer.step()                          # the same step on every rank

    Construction checks that every rank built the same model (names and shapes: a mismatch is named) and
    broadcasts rank 0's parameters and buffers. With ``broadcast_buffers`` (default) each forward in training
    mode copies rank 0's buffers (BatchNorm's running statistics) to the others first, as PyTorch; batch
    statistics stay per rank unless the model uses ``SyncBatchNorm``. ``no_sync()`` skips the averaging for
    gradient accumulation: the gradients of the steps inside it are averaged by the first backward after it.
    ``find_unused_parameters=True`` allows parameters that take no part in a forward pass (their gradient
    counts as zero); without it such a model raises at the next forward, naming them.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: float = 25.0,
                 find_unused_parameters: bool = False, gradient_as_bucket_view: bool = False, **kwargs):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, got {type(module).__name__}")
        if process_group is not None:
            raise NotImplementedError("DistributedDataParallel: process_group is not supported (the whole job)")
        comm.init()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        broadcast_state(module)
        self.reducer = GradReducer(module.parameters(), bucket_cap_mb)
        object.__setattr__(self, "_sync", True)
        object.__setattr__(self, "_ready", [set() for _ in self.reducer.buckets])
        object.__setattr__(self, "_handles", [p.register_post_accumulate_grad_hook(self._make_hook(i))
                                              for i, p in enumerate(self.reducer.params)])

    def _make_hook(self, i: int):
        b = self.reducer.bucket_of[i]

        def hook(param):
            if not self._sync:
                return
            ready = self._ready[b]
            ready.add(i)
            if len(ready) == len(self.reducer.buckets[b]):
                ready.clear()
                if comm.world_size() > 1:
                    self.reducer.reduce_bucket(b)
        return hook

    def forward(self, *inputs, **kwargs):
        self._check_finished()
        if self.broadcast_buffers and self.training and comm.world_size() > 1:
            for t in self.module.buffers():
                if t is not None:
                    comm.broadcast_array(t.array, 0)
        out = self.module(*inputs, **kwargs)
        if self.find_unused_parameters and self._sync and self.training:
            self._mark_unused(out)
        return out

    def _check_finished(self) -> None:
        pending = [i for bucket in self._ready for i in bucket]
        if not pending:
            return
        names = {id(p): n for n, p in self.module.named_parameters()}
        missing = [names[id(self.reducer.params[i])] for i in sorted(
            i for b, ready in enumerate(self._ready) if ready for i in self.reducer.buckets[b] if i not in ready)]
        for ready in self._ready:
            ready.clear()
        raise RuntimeError("DistributedDataParallel: the last backward gave no gradient to "
                           f"{', '.join(missing[:10])}: the gradients were not averaged. Pass "
                           "find_unused_parameters=True if the model does not use every parameter in each forward")

    def _mark_unused(self, out) -> None:
        """Parameters the graph of ``out`` does not reach count as ready (their gradient as zero)."""
        reached, stack, seen = set(), [t.grad_fn for t in _tensors(out) if t.grad_fn is not None], set()
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            for p in fn.parents:
                if isinstance(p, Tensor):
                    if p.grad_fn is None:
                        reached.add(id(p))
                    else:
                        stack.append(p.grad_fn)
        for i, p in enumerate(self.reducer.params):
            if id(p) not in reached:
                self._ready[self.reducer.bucket_of[i]].add(i)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block backward leaves the gradients local (accumulate over several batches); the first
        backward after it averages the accumulated sums."""
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", True)


def _tensors(out):
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _tensors(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors(o)
