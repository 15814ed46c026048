"""Callbacks: code that ``fit`` runs at fixed points of training, and everything optional in ``fit`` itself.

Subclass ``Callback`` and override any of the hooks. ``fit`` gives every callback ``self.state`` (a
``TrainingState``: ``model``, ``optimizer``, ``scheduler``, ``history``, ``epoch``, ``step``) before
training starts; setting ``self.state.stop_training = True`` stops training after the current step.

    on_train_begin(logs)       logs: {'initial_epoch': first epoch index (> 0 when resuming)}
    on_epoch_begin(epoch, logs)
    on_before_backward(logs)   logs: {'loss': this batch's loss}; the graph is built, no gradient computed yet
    on_before_optimizer_step(logs)  the gradients are in ``.grad``; the optimizer has not stepped yet
    on_batch_end(step, logs)   logs: {'loss': this batch's loss, 'size': its number of samples}
    on_epoch_end(epoch, logs)  logs: the epoch's 'loss', metrics, 'val_*', 'lr', 'epoch_time', 'samples_per_sec'
    on_train_end(logs)         logs: {'interrupted': bool}

Epochs are counted from 0 in hooks (the progress bar and files show them from 1). ``state_dict()`` /
``load_state_dict()`` carry a callback's own progress (e.g. EarlyStopping's patience counter) through the
checkpoint, so a resumed run continues where it stopped.

``fit`` turns its own options into callbacks run around the user's, in this order: the progress bar
(``progress``), the NaN stop (always), gradient clipping (``clip_grad_norm``) and ``LearningRateScheduler``
(``scheduler``); then the user's callbacks; then ``ModelCheckpoint`` (``checkpoint``), so that the checkpoint
holds every callback's state after the epoch.
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from lamina.metrics import METRICS, get_metric
from lamina.nn.utils import clip_grad_norm_
from lamina.optim.lr_scheduler import ReduceLROnPlateau
from lamina.tensor import from_numpy
from lamina.training.state import History, TrainingError

__all__ = ["Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "CSVLogger",
           "JSONLogger", "GradientMonitor"]


class Callback:
    """Base class: every hook does nothing."""

    state = None

    def set_state(self, state) -> None:
        self.state = state

    def on_train_begin(self, logs: dict) -> None:
        pass

    def on_train_end(self, logs: dict) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_before_backward(self, logs: dict) -> None:
        pass

    def on_before_optimizer_step(self, logs: dict) -> None:
        pass

    def on_batch_end(self, step: int, logs: dict) -> None:
        pass

    def state_dict(self) -> dict:
        """JSON-friendly progress saved in fit's checkpoint."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class CallbackList:
    """Callbacks called together, in order. Each hook calls only the callbacks that override it, so a hook
    nobody uses costs one empty loop per batch."""

    def __init__(self, callbacks=()):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be lamina.callbacks.Callback instances, got {type(cb).__name__}")
        self._hooks = {name: [getattr(cb, name) for cb in self.callbacks
                              if getattr(type(cb), name) is not getattr(Callback, name)]
                       for name in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                                    "on_before_backward", "on_before_optimizer_step", "on_batch_end")}

    def set_state(self, state) -> None:
        for cb in self.callbacks:
            cb.set_state(state)

    def on_train_begin(self, logs: dict) -> None:
        for hook in self._hooks["on_train_begin"]:
            hook(logs)

    def on_train_end(self, logs: dict) -> None:
        for hook in self._hooks["on_train_end"]:
            hook(logs)

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        for hook in self._hooks["on_epoch_begin"]:
            hook(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        for hook in self._hooks["on_epoch_end"]:
            hook(epoch, logs)

    def on_before_backward(self, logs: dict) -> None:
        for hook in self._hooks["on_before_backward"]:
            hook(logs)

    def on_before_optimizer_step(self, logs: dict) -> None:
        for hook in self._hooks["on_before_optimizer_step"]:
            hook(logs)

    def on_batch_end(self, step: int, logs: dict) -> None:
        for hook in self._hooks["on_batch_end"]:
            hook(step, logs)

    @property
    def wants_batch_end(self) -> bool:
        return bool(self._hooks["on_batch_end"])


def direction(monitor: str) -> str:
    """'min' or 'max': how a logged value improves. Losses go down; a metric of lamina.metrics goes the way
    its ``Metric.higher_is_better`` says; anything else is unknown and raises."""
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):
        return "min"
    try:
        metric = get_metric(name)
    except ValueError:
        raise ValueError(f"mode='auto' cannot tell whether {monitor!r} improves by going down or up: it is neither "
                         f"a loss nor one of lamina.metrics ({', '.join(METRICS)}, top<k>_accuracy); "
                         "pass mode='min' or mode='max'") from None
    return "max" if metric.higher_is_better else "min"


class _Monitor:
    """Tracks the best value of one logged quantity ('min' or 'max'; 'auto' asks ``direction``)."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.min_delta = monitor, abs(min_delta)
        self.mode = direction(monitor) if mode == "auto" else mode
        self.reset()

    def reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs: dict, who: str) -> float:
        if self.monitor not in logs:
            hint = " (pass val= to fit to get validation metrics)" if self.monitor.startswith("val_") else ""
            raise KeyError(f"{who} monitors {self.monitor!r} but the epoch logs only have "
                           f"{', '.join(sorted(logs))}{hint}")
        return float(logs[self.monitor])

    def improved(self, current: float) -> bool:
        if math.isnan(current):
            return False
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode='auto'`` minimises losses and follows ``Metric.higher_is_better`` for lamina.metrics' metrics (and
    raises for other names). With ``restore_best_weights=True`` the model gets back the weights of its best
    epoch when it stops early (as Keras: a run that ends without stopping early keeps its last weights).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        self.tracker = _Monitor(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self):
        self.tracker.reset()
        self.wait = 0
        self.best_epoch = None
        self.stopped_epoch = None
        self.best_weights = None

    @property
    def best(self) -> float:
        return self.tracker.best

    def on_train_begin(self, logs):
        if not logs.get("initial_epoch"):
            self._reset()

    def on_epoch_end(self, epoch, logs):
        current = self.tracker.value(logs, "EarlyStopping")
        if self.tracker.improved(current):
            self.tracker.best, self.wait, self.best_epoch = current, 0, epoch
            if self.restore_best_weights:
                self.best_weights = _copy_weights(self.state.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.state.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.state.model.load_state_dict(self.best_weights)

    def state_dict(self):
        state = {"best": self.tracker.best, "wait": self.wait, "best_epoch": self.best_epoch}
        if self.best_weights is not None:
            state["best_weights"] = {k: v.array for k, v in self.best_weights.items()}
        return state

    def load_state_dict(self, state):
        self.tracker.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else {
            k: from_numpy(np.asarray(v)) for k, v in weights.items()}


def _copy_weights(model) -> dict:
    return {k: from_numpy(np.array(v.array, copy=True)) for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------------------------------------------
# checkpoints: the one place that writes them (ModelCheckpoint) and reads them back (fit's resume)
# ---------------------------------------------------------------------------------------------------------------
def checkpoint_path(checkpoint) -> Path | None:
    """A checkpoint file from a file path or a directory (given as an existing folder or a path without suffix)."""
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    if path.is_dir() or not path.suffix:
        path = path / "checkpoint.ckpt"
    return path


def write_checkpoint(state, path: Path, epoch: int) -> None:
    """A resumable checkpoint: model, optimizer, scheduler, epochs done, History, RNG (by save_checkpoint), and
    in ``extra`` the state of the user's callbacks and of the training DataLoader's own generator."""
    from lamina.serialization import save_checkpoint  # safetensors loads when a checkpoint is first written

    extra = {"callbacks": [cb.state_dict() for cb in state.callbacks]}
    generator = getattr(state.loader, "generator", None)
    if generator is not None:
        extra["loader_generator"] = generator.get_state()
    save_checkpoint(path, model=state.model, optimizer=state.optimizer, scheduler=state.scheduler, epoch=epoch,
                    history=state.history.to_dict(), extra=extra)
    state.last_checkpoint = path


def restore_checkpoint(checkpoint, state) -> int:
    """Restore what ``write_checkpoint`` wrote into ``state``; returns the number of epochs it had completed."""
    from lamina.serialization import load_checkpoint  # as in write_checkpoint

    path = checkpoint_path(checkpoint)
    if not path.exists():
        raise FileNotFoundError(f"cannot resume: no checkpoint at {path}")
    ckpt = load_checkpoint(path, model=state.model, optimizer=state.optimizer, scheduler=state.scheduler)
    saved = ckpt.get("history")
    if saved:
        state.history.__dict__.update(History.from_dict(saved).__dict__)
        state.history.interrupted = False
    extra = ckpt.get("extra") or {}
    generator = getattr(state.loader, "generator", None)
    if generator is not None and "loader_generator" in extra:
        generator.set_state(extra["loader_generator"])
    for cb, cb_state in zip(state.callbacks, extra.get("callbacks", [])):
        cb.load_state_dict(cb_state)
    state.last_checkpoint = path
    return int(ckpt["epoch"])


class ModelCheckpoint(Callback):
    """Save the model after an epoch: the best one so far by ``monitor`` (``save_best_only``) or every one.

    ``path`` may contain ``{epoch}`` and any logged name (``'model-{epoch:02d}-{val_loss:.3f}.safetensors'``).
    ``weights_only=True`` writes the state dict with ``lamina.save`` (safetensors); False writes a checkpoint that
    ``fit(resume=path)`` continues from (model, optimizer, scheduler, epoch, History, RNG, callback states: the
    one ``fit(checkpoint=...)`` writes every epoch with this callback). ``best_path`` is the last file written.
    """

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = True, mode: str = "auto",
                 weights_only: bool = True):
        self.path = str(path)
        self.tracker = _Monitor(monitor, mode)
        self.save_best_only = save_best_only
        self.weights_only = weights_only
        self.best_path = None

    def on_train_begin(self, logs):
        if not logs.get("initial_epoch"):
            self.tracker.reset()

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            current = self.tracker.value(logs, "ModelCheckpoint")
            if not self.tracker.improved(current):
                return
            self.tracker.best = current
        path = Path(self.path.format(epoch=epoch + 1, **logs))
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.weights_only:
            from lamina.serialization import save  # as in write_checkpoint

            save(self.state.model.state_dict(), path)
        else:
            write_checkpoint(self.state, path, epoch + 1)
        self.best_path = path

    def state_dict(self):
        return {"best": self.tracker.best, "best_path": None if self.best_path is None else str(self.best_path)}

    def load_state_dict(self, state):
        self.tracker.best = state["best"]
        self.best_path = None if state["best_path"] is None else Path(state["best_path"])


class LearningRateScheduler(Callback):
    """Set the learning rate from ``schedule``.

    ``schedule`` is a function ``epoch -> lr`` (or ``(epoch, lr) -> lr``), applied to every parameter group at
    the start of each epoch, or an ``optim.lr_scheduler`` scheduler, stepped at the end of each epoch or, with
    ``interval='batch'``, after every optimizer step. ``interval=None`` takes the scheduler's own ``interval``
    ('batch' for OneCycleLR and CyclicLR). ReduceLROnPlateau steps with the logged ``monitor`` (the training
    loss when the logs do not have it, as after a batch).
    """

    def __init__(self, schedule, monitor: str = "val_loss", interval: str | None = None):
        self.schedule = schedule
        self.monitor = monitor
        self.is_scheduler = hasattr(schedule, "step")
        if not self.is_scheduler:
            if not callable(schedule):
                raise TypeError("schedule must be a function epoch -> lr or a learning-rate scheduler")
            self.n_args = len(inspect.signature(schedule).parameters)
        if interval is None:
            interval = getattr(schedule, "interval", "epoch")
        if interval not in ("epoch", "batch") or (interval == "batch" and not self.is_scheduler):
            raise ValueError(f"interval must be 'epoch' or 'batch' (for a scheduler), got {interval!r}")
        self.interval = interval

    def on_epoch_begin(self, epoch, logs):
        if self.is_scheduler:
            return
        groups = self.state.optimizer.param_groups
        lr = self.schedule(epoch) if self.n_args == 1 else self.schedule(epoch, groups[0]["lr"])
        for group in groups:
            group["lr"] = float(lr)

    def on_batch_end(self, step, logs):
        if self.interval == "batch":
            self._step(logs)

    def on_epoch_end(self, epoch, logs):
        if self.is_scheduler and self.interval == "epoch":
            self._step(logs)

    def _step(self, logs):
        if isinstance(self.schedule, ReduceLROnPlateau):
            self.schedule.step(logs[self.monitor if self.monitor in logs else "loss"])
        else:
            self.schedule.step()

    def state_dict(self):
        return {"scheduler": self.schedule.state_dict()} if self.is_scheduler else {}

    def load_state_dict(self, state):
        if self.is_scheduler and "scheduler" in state:
            self.schedule.load_state_dict(state["scheduler"])


class CSVLogger(Callback):
    """Append one row per epoch (epoch, then every logged value) to a CSV file; a resumed run appends."""

    def __init__(self, path, append: bool = False):
        self.path = Path(path)
        self.append = append
        self.file = None
        self.writer = None

    def on_train_begin(self, logs):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        appending = (self.append or logs.get("initial_epoch")) and self.path.exists() and self.path.stat().st_size
        self.file = open(self.path, "a" if appending else "w", newline="")  # noqa: SIM115 - closed on_train_end
        self.writer = None
        self.keys = None
        if appending:
            with open(self.path, newline="") as f:
                self.keys = next(csv.reader(f), None)[1:]

    def on_epoch_end(self, epoch, logs):
        if self.keys is None:
            self.keys = list(logs)
            csv.writer(self.file).writerow(["epoch", *self.keys])
        csv.writer(self.file).writerow([epoch + 1, *(_csv_value(logs.get(k, "")) for k in self.keys)])
        self.file.flush()

    def on_train_end(self, logs):
        if self.file is not None:
            self.file.close()
            self.file = None


def _csv_value(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


class JSONLogger(Callback):
    """Write one JSON object per epoch to a JSON Lines file: ``{"epoch": 1, "loss": ..., ...}``."""

    def __init__(self, path, append: bool = False):
        self.path = Path(path)
        self.append = append

    def on_train_begin(self, logs):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not (self.append or logs.get("initial_epoch")):
            self.path.write_text("")

    def on_epoch_end(self, epoch, logs):
        with open(self.path, "a") as f:
            f.write(json.dumps({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}) + "\n")


class GradientMonitor(Callback):
    """Record each parameter's gradient L2 norm, averaged over the steps of an epoch, in
    ``history.gradient_norms[name]`` (one value per epoch), to see vanishing or exploding gradients.
    ``every=k`` samples one step in k to keep the cost down."""

    def __init__(self, every: int = 1):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every

    def on_epoch_begin(self, epoch, logs):
        self.params = [(n, p) for n, p in self.state.model.named_parameters() if p.requires_grad]
        self.sums = np.zeros(len(self.params))
        self.counts = np.zeros(len(self.params))

    def on_batch_end(self, step, logs):
        if step % self.every:
            return
        for i, (_, p) in enumerate(self.params):
            if p.grad is not None:
                g = p.grad.array.ravel()
                self.sums[i] += math.sqrt(float(np.dot(g, g)))
                self.counts[i] += 1

    def on_epoch_end(self, epoch, logs):
        norms = self.state.history.gradient_norms
        for (name, _), total, count in zip(self.params, self.sums, self.counts):
            norms.setdefault(name, []).append(float(total / count) if count else 0.0)


# ---------------------------------------------------------------------------------------------------------------
# fit's own options as callbacks
# ---------------------------------------------------------------------------------------------------------------
class _StopOnNaN(Callback):
    """Raise TrainingError when a batch's loss is NaN or infinite, before its gradients reach the weights."""

    def on_before_backward(self, logs):
        value = logs["loss"]
        if not math.isfinite(value):
            state = self.state
            kept = state.last_checkpoint
            where = f"the last good checkpoint is {kept}" if kept else "no checkpoint was saved"
            raise TrainingError(f"the loss became {value} at epoch {state.epoch + 1}, step {state.step + 1}: training "
                                f"stopped ({where}); try a smaller learning rate or gradient clipping",
                                state.epoch + 1, state.step + 1, kept, state.history)


class _ClipGradNorm(Callback):
    """``nn.utils.clip_grad_norm_`` on the trainable parameters before every optimizer step."""

    def __init__(self, max_norm: float):
        self.max_norm = max_norm

    def on_train_begin(self, logs):
        self.params = [p for p in self.state.model.parameters() if p.requires_grad]

    def on_before_optimizer_step(self, logs):
        clip_grad_norm_(self.params, self.max_norm)


class _ProgressBar(Callback):
    """A tqdm bar per epoch on ``stream``: the running loss and samples/s, then the epoch's logs."""

    def __init__(self, stream):
        self.stream = stream
        self.bar = None

    def on_epoch_begin(self, epoch, logs):
        from tqdm import tqdm  # tqdm loads only when a bar is shown

        try:
            total = len(self.state.loader)
        except TypeError:
            total = None
        self.bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{self.state.epochs}", unit="batch", file=self.stream,
                        leave=True, dynamic_ncols=True, mininterval=0.2)
        self.total, self.seen = 0.0, 0
        self.started = self.last_shown = time.perf_counter()

    def on_batch_end(self, step, logs):
        self.total += logs["loss"] * logs["size"]
        self.seen += logs["size"]
        self.bar.update(1)
        now = time.perf_counter()
        if now - self.last_shown > 0.2:
            self.last_shown = now
            self.bar.set_postfix_str(f"loss={self.total / self.seen:.4g}, "
                                     f"{self.seen / (now - self.started):.0f} samples/s", refresh=False)

    def on_epoch_end(self, epoch, logs):
        shown = [f"{k}={v:.4g}" for k, v in logs.items() if k not in ("epoch_time", "lr", "samples_per_sec")]
        self.bar.set_postfix_str(", ".join(shown + [f"{logs['samples_per_sec']:.0f} samples/s"]), refresh=False)
        self.close()

    def on_train_end(self, logs):
        self.close()
        if logs["interrupted"]:
            state = self.state
            kept = f"; last checkpoint: {state.last_checkpoint}" if state.last_checkpoint else ""
            print(f"training interrupted at epoch {state.epoch + 1}, step {state.step}{kept}", file=self.stream)

    def close(self):
        """Close the bar of an unfinished epoch (fit calls this when an exception ends training)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def fit_callbacks(callbacks, *, progress, scheduler, scheduler_interval, clip_grad_norm, checkpoint) -> list:
    """fit's options as callbacks, around the user's (see the module docstring for the order)."""
    stream = None if progress is False else (sys.stderr if progress is True else progress)
    before = [_ProgressBar(stream)] if stream is not None else []
    before.append(_StopOnNaN())
    if clip_grad_norm:
        before.append(_ClipGradNorm(clip_grad_norm))
    if scheduler is not None:
        before.append(LearningRateScheduler(scheduler, interval=scheduler_interval))
    after = []
    if checkpoint is not None:  # braces in the path are not format fields here
        escaped = str(checkpoint).replace("{", "{{").replace("}", "}}")
        after.append(ModelCheckpoint(escaped, save_best_only=False, weights_only=False))
    return before + list(callbacks) + after
