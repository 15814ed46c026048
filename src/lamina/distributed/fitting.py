"""``fit(..., distributed=True)``: what data-parallel training changes in fit, as one callback and a sharded loader.

- Data: the training DataLoader's dataset is read through a ``DistributedSampler``; ``batch_size`` stays the
  global batch (each rank takes ceil(batch_size / world size) samples per step), so a run at any world size sees
  the same batches as a single process (up to the sampler's padding) and a checkpoint resumes at any world size.
- Start: every rank's model is checked against rank 0's (names and shapes) and gets rank 0's weights and buffers;
  rank r > 0 then draws its dropout masks from its own stream (the global generator jumped r times).
- Each step (``on_before_optimizer_step``): the gradients are averaged over the ranks in flat buckets, the
  stop flag rides along (a Ctrl-C, or a stop asked by a callback before the optimizer step, on any rank stops
  every rank after the same step; a callback that stops later, at a batch's or epoch's end, must decide alike
  on every rank, as EarlyStopping does on the averaged logs), and
  rank 0's buffers (BatchNorm's running statistics) are broadcast, as DistributedDataParallel does.
- Each epoch (``on_epoch_end``, before every other callback): the logs are averaged over the ranks (throughput
  summed, epoch time the slowest rank's), in the History too, so that early stopping and schedulers decide
  alike on every rank.
- Validation data is not sharded: every rank evaluates all of it (the same weights give the same figures).
- Rank 0 alone shows progress and writes checkpoints and logs: on the other ranks fit's progress bar,
  checkpoint and health warnings are off and the user's CSVLogger, JSONLogger and ModelCheckpoint are muted
  (kept in place, so their states still line up with a checkpoint's).
"""

from __future__ import annotations

import math
import signal
import sys
import threading

import numpy as np

from lamina import random as _random
from lamina.data import DataLoader
from lamina.distributed import comm
from lamina.distributed.parallel import GradReducer, broadcast_state
from lamina.distributed.sampler import DistributedSampler
from lamina.training.callbacks import Callback, CSVLogger, JSONLogger, ModelCheckpoint

WRITERS = (CSVLogger, JSONLogger, ModelCheckpoint)


class _Muted(Callback):
    """A file-writing callback on a rank other than 0: no hooks, but its state still goes in and out."""

    def __init__(self, callback):
        self.callback = callback

    def state_dict(self):
        return self.callback.state_dict()

    def load_state_dict(self, state):
        self.callback.load_state_dict(state)


def shard(loader: DataLoader, seed: int) -> DataLoader:
    """This rank's DataLoader: the same dataset through a DistributedSampler, ceil(batch / world) per step."""
    if loader.sampler is not None or loader.batch_sampler is not None:
        raise ValueError("fit(distributed=True) shards the training data itself: pass a Dataset, an (X, y) pair or "
                         "a DataLoader without sampler= or batch_sampler=")
    p = comm.world_size()
    per_rank = math.ceil(loader.batch_size / p)
    sampler = DistributedSampler(loader.dataset, p, comm.rank(), shuffle=loader.shuffle, seed=seed,
                                 drop_last=loader.drop_last)
    return DataLoader(loader.dataset, batch_size=per_rank, sampler=sampler, drop_last=loader.drop_last,
                      collate_fn=loader.collate_fn)


class DataParallelFit(Callback):
    """fit's data-parallel setup (see the module docstring). After construction ``loader``, ``callbacks``,
    ``progress``, ``health`` and ``checkpoint`` are what fit uses in place of its own; the object itself is
    the first callback."""

    def __init__(self, model, loader: DataLoader, callbacks: list, *, progress, health: bool, checkpoint):
        comm.init()
        self.main = comm.rank() == 0
        seeds = [_random.initial_seed() % 2**31]
        comm.broadcast_object_list(seeds, 0)
        self.loader = shard(loader, seeds[0])
        p = comm.world_size()
        if self.main and p > 1:  # mpiexec names a process that dies by its pid: this line gives its rank
            per_rank = self.loader.batch_size
            print(f"lamina.distributed: {p} processes (rank:pid@host {comm.describe()}); batch_size "
                  f"{loader.batch_size}: {per_rank} per process" + (f", a global batch of {per_rank * p}"
                                                                    if loader.batch_size % p else ""),
                  file=sys.stderr, flush=True)
        self.model = model
        self.reducer = GradReducer(model.parameters())
        self.buffers = [t for t in model.buffers() if t is not None]
        self.callbacks = callbacks if self.main else [_Muted(cb) if isinstance(cb, WRITERS) else cb
                                                      for cb in callbacks]
        self.progress = progress if self.main else False
        self.health = health and self.main
        self.checkpoint = checkpoint if self.main else None
        self.flags = np.zeros(2, dtype=self.reducer.dtype)  # stop, interrupted
        self.ctrl_c = None  # None: fit's Ctrl-C handler is in place; then whether Ctrl-C was pressed

    def on_train_begin(self, logs):
        broadcast_state(self.model)
        r = comm.rank()
        if r:  # dropout on rank r draws from its own stream; rank 0's is the one checkpoints keep
            state = _random.get_rng_state()
            bits = getattr(np.random, state["bit_generator"])()
            bits.state = state
            _random.set_rng_state(bits.jumped(r).state)

    def on_epoch_begin(self, epoch, logs):
        self.loader.sampler.set_epoch(epoch)
        if self.ctrl_c is None and threading.current_thread() is threading.main_thread():
            # in place of fit's Ctrl-C handler (which restores its predecessor at the end): a Ctrl-C is only noted
            # here, and every rank stops after the step whose averaging first carries it, never one step apart
            self.ctrl_c = False
            signal.signal(signal.SIGINT, self._on_ctrl_c)

    def _on_ctrl_c(self, signum, frame):
        if self.ctrl_c:
            raise KeyboardInterrupt
        self.ctrl_c = True

    def on_before_optimizer_step(self, logs):
        state = self.state
        self.flags[:] = (state.stop_training or bool(self.ctrl_c), state.interrupted or bool(self.ctrl_c))
        self.reducer.reduce(self.flags)
        if self.flags[0]:  # any rank asked to stop: all stop after this step
            state.stop_training = True
            state.interrupted = bool(self.flags[1])
        for t in self.buffers:
            comm.broadcast_array(t.array, 0)

    def on_epoch_end(self, epoch, logs):
        keys = list(logs)
        values = np.array([float(logs[k]) for k in keys], dtype=np.float64)
        every = comm.all_gather_array(values)
        history = self.state.history.history
        for i, k in enumerate(keys):
            column = every[:, i]
            value = column.sum() if k == "samples_per_sec" else column.max() if k == "epoch_time" else column.mean()
            logs[k] = float(value)
            if history.get(k):
                history[k][-1] = float(value)
