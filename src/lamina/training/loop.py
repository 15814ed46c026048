"""The training loop, as Keras splits it: ``train_step`` (one batch), ``run_epoch`` (one pass over the data,
then validation and the epoch's logs) and ``fit`` (the epochs, with a callback list for everything optional)."""

from __future__ import annotations

import signal
import time
from typing import NamedTuple

from lamina.tensor import Tensor
from lamina.training.callbacks import CallbackList, _ProgressBar, checkpoint_path, fit_callbacks, restore_checkpoint
from lamina.training.data import compute_metrics, evaluate_loader, loader, metric_fns, split_batch
from lamina.training.health import TrainingHealth
from lamina.training.signals import HandlersReplaced
from lamina.training.state import History, TrainingState


class StepResult(NamedTuple):
    """What ``train_step`` returns: the batch's loss as a float, the model's outputs and the targets."""

    loss: float
    outputs: Tensor
    targets: Tensor


def train_step(model, batch, loss, optimizer, callbacks: CallbackList | None = None) -> StepResult:
    """One optimisation step on one batch, exactly PyTorch's loop body:
    ``out = model(x); l = loss(out, y); optimizer.zero_grad(); l.backward(); optimizer.step()``.

    ``batch`` is an ``(inputs, targets)`` pair. ``callbacks`` (a ``CallbackList``, or a list of callbacks) get
    ``on_before_backward({'loss': value})`` once the loss is known (``fit``'s NaN stop raises there, so a bad
    step never reaches the weights) and ``on_before_optimizer_step`` once the gradients are (clipping, or
    averaging gradients across workers in data-parallel training). Returns a ``StepResult``: the loss as a
    float, the outputs (still attached to the graph) and the targets.
    """
    if callbacks is not None and not isinstance(callbacks, CallbackList):
        callbacks = CallbackList(callbacks)
    x, y = split_batch(batch, "train")
    outputs = model(x)
    loss_tensor = loss(outputs, y)
    value = float(loss_tensor.array)
    if callbacks is not None:
        logs = {"loss": value}
        callbacks.on_before_backward(logs)
    optimizer.zero_grad()
    loss_tensor.backward()
    if callbacks is not None:
        callbacks.on_before_optimizer_step(logs)
    optimizer.step()
    return StepResult(value, outputs, y)


def run_epoch(state: TrainingState, epoch: int, train, val, loss, metrics: dict, callbacks: CallbackList) -> None:
    """Train on every batch of ``train``, then validate on ``val``, record the epoch in the History and call
    ``on_epoch_end``. A stop asked during the epoch ends it early (an interruption skips its end)."""
    state.epoch, state.step = epoch, 0
    state.model.train()
    callbacks.on_epoch_begin(epoch, {})
    lr = state.optimizer.param_groups[0]["lr"]
    total, seen, outputs, targets = 0.0, 0, [], []
    started = time.perf_counter()
    for step, batch in enumerate(train):
        result = train_step(state.model, batch, loss, state.optimizer, callbacks)
        n = result.outputs.shape[0]
        total += result.loss * n
        seen += n
        if metrics:
            outputs.append(result.outputs.array)
            targets.append(result.targets.array)
        state.step = step + 1
        if callbacks.wants_batch_end:
            callbacks.on_batch_end(step, {"loss": result.loss, "size": n})
        if state.stop_training:
            break
    if state.interrupted:
        return
    elapsed = time.perf_counter() - started
    logs = {"loss": total / max(seen, 1)}
    logs.update(compute_metrics(metrics, outputs, targets))
    outputs = targets = None
    if val is not None:
        logs.update(evaluate_loader(state.model, val, loss, metrics, prefix="val_"))
    logs.update(lr=lr, epoch_time=elapsed, samples_per_sec=seen / elapsed if elapsed > 0 else 0.0)
    state.history.record(epoch, logs)
    callbacks.on_epoch_end(epoch, logs)


class _CtrlC(HandlersReplaced):
    """While training, the first Ctrl-C asks the loop to stop after the current step; a second one aborts. The
    handler found at entry is put back at the end, even when a second Ctrl-C is pending then."""

    def __init__(self, state: TrainingState):
        super().__init__({signal.SIGINT: self._handler})
        self.state = state

    def _handler(self, signum, frame):
        if self.state.interrupted:
            raise KeyboardInterrupt
        self.state.interrupted = True
        self.state.stop_training = True


def fit(model, train, *, loss, optimizer, epochs: int, val=None, metrics=(), callbacks=(), scheduler=None,
        batch_size: int = 32, shuffle: bool = True, progress=True, checkpoint=None, resume=None,
        scheduler_interval: str | None = None, clip_grad_norm: float | None = None, health: bool = True,
        distributed: bool = False) -> History:
    """Train ``model`` for ``epochs`` epochs and return the ``History``.

    ``train``/``val``: a DataLoader, a Dataset or an (X, y) pair of arrays or Tensors. ``loss``: a loss module
    (e.g. ``nn.CrossEntropyLoss()``). ``metrics``: names from ``lamina.metrics`` or callables f(outputs, targets).
    ``scheduler`` steps once per epoch (ReduceLROnPlateau with the val loss, or the train loss without val data),
    or after every batch when ``scheduler_interval='batch'`` (the default for schedulers that declare
    ``interval = 'batch'``: OneCycleLR and CyclicLR).
    ``progress``: a tqdm bar per epoch (True: on stderr; or a stream to write to; False: silent).
    ``checkpoint``: file or folder where a full checkpoint is written after every epoch; ``resume``: a
    checkpoint to continue from (``resume=True``: the ``checkpoint`` one), with the same weights, optimizer,
    scheduler, RNG state and History, so the resumed run ends bit for bit where an uninterrupted one would.
    A NaN or infinite loss raises ``TrainingError``; Ctrl-C stops after the current step and returns the
    History with ``interrupted=True``. ``health``: watch each layer with a ``TrainingHealth`` callback (unless
    ``callbacks`` holds one already): ``history.health`` holds its records, and it warns about vanishing or
    exploding gradients, dead ReLUs and symmetric units; ``health=False`` turns it off. (Pass one in
    ``callbacks`` to carry its records through checkpoints: fit's own is not saved in them.) Each batch is one
    ``train_step``; the options above are callbacks (see ``lamina.training.callbacks``).
    ``distributed=True``: data-parallel training over the processes of an MPI job (``mpiexec -n 4 python
    train.py``; see ``lamina.distributed.fitting``): each rank trains on its share of every batch (``batch_size``
    stays the global batch), gradients and metrics are averaged over the ranks, and rank 0 alone shows progress
    and writes checkpoints and logs; ``resume`` works at any number of processes.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if scheduler_interval not in (None, "epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    train_loader = loader(train, batch_size, shuffle, loss, "train")
    val_loader = None if val is None else loader(val, max(batch_size, 256), False, loss, "val")
    fns = metric_fns(metrics)
    user = CallbackList(callbacks)
    if resume is True:
        if checkpoint is None:
            raise ValueError("resume=True needs checkpoint= to say where the checkpoint is")
        resume = checkpoint
    if checkpoint is None and resume is not None:
        checkpoint = resume
    parallel = []
    if distributed:  # the one upward import: lamina.distributed sits above training (README, architecture)
        from lamina.distributed.fitting import DataParallelFit

        dp = DataParallelFit(model, train_loader, user.callbacks, progress=progress, health=health,
                             checkpoint=checkpoint)
        parallel, train_loader, user = [dp], dp.loader, CallbackList(dp.callbacks)
        progress, health, checkpoint = dp.progress, dp.health, dp.checkpoint
    watch = [TrainingHealth()] if health and not any(isinstance(cb, TrainingHealth) for cb in user.callbacks) else []
    state = TrainingState(model, optimizer, scheduler, History(), epochs, checkpoint_path(checkpoint),
                          loader=train_loader, callbacks=user.callbacks)
    every = CallbackList(parallel + fit_callbacks(user.callbacks + watch, progress=progress, scheduler=scheduler,
                                       scheduler_interval=scheduler_interval, clip_grad_norm=clip_grad_norm,
                                       checkpoint=state.checkpoint))
    every.set_state(state)
    start = 0 if resume is None else restore_checkpoint(resume, state)
    was_training = getattr(model, "training", True)
    every.on_train_begin({"initial_epoch": start})
    try:
        with _CtrlC(state):
            for epoch in range(start, epochs):
                run_epoch(state, epoch, train_loader, val_loader, loss, fns, every)
                if state.stop_training:
                    break
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        for cb in every.callbacks:
            if isinstance(cb, _ProgressBar):
                cb.close()
        if hasattr(model, "train"):
            model.train(was_training)
    if state.interrupted:
        state.history.interrupted = True
    every.on_train_end({"interrupted": state.interrupted})
    return state.history
