"""Callbacks: code that ``fit`` runs at fixed points of training.

Subclass ``Callback`` and override any of the hooks. ``fit`` gives every callback ``self.state`` (a
``training.TrainingState``: ``model``, ``optimizer``, ``scheduler``, ``history``, ``epoch``, ``step``) before
training starts; setting ``self.state.stop_training = True`` stops training after the current step.

    on_train_begin(logs)       logs: {'initial_epoch': first epoch index (> 0 when resuming)}
    on_epoch_begin(epoch, logs)
    on_batch_end(step, logs)   logs: {'loss': this batch's loss, 'size': its number of samples}
    on_epoch_end(epoch, logs)  logs: the epoch's 'loss', metrics, 'val_*', 'lr', 'epoch_time', 'samples_per_sec'
    on_train_end(logs)         logs: {'interrupted': bool}

Epochs are counted from 0 in hooks (the progress bar and files show them from 1). ``state_dict()`` /
``load_state_dict()`` carry a callback's own progress (e.g. EarlyStopping's patience counter) through the
checkpoint, so a resumed run continues where it stopped.
"""

from __future__ import annotations

import csv
import inspect
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "CSVLogger", "JSONLogger",
           "GradientMonitor"]

_HIGHER_IS_BETTER = ("acc", "r2", "f1", "precision", "recall", "auc")


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

    def on_batch_end(self, step: int, logs: dict) -> None:
        pass

    def state_dict(self) -> dict:
        """JSON-friendly progress saved in fit's checkpoint."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class _Monitor:
    """Tracks the best value of one logged quantity ('min' or 'max'; 'auto' guesses from the name)."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if any(word in monitor.lower() for word in _HIGHER_IS_BETTER) else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
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

    With ``restore_best_weights=True`` the model gets back the weights of its best epoch when it stops
    early (as Keras: a run that ends without stopping early keeps its last weights).
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
        from lamina.tensor import Tensor

        self.tracker.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else {
            k: Tensor._make(np.asarray(v), False, None) for k, v in weights.items()}


def _copy_weights(model) -> dict:
    from lamina.tensor import Tensor

    return {k: Tensor._make(np.array(v.array, copy=True), False, None) for k, v in model.state_dict().items()}


class ModelCheckpoint(Callback):
    """Save the model after an epoch: the best one so far by ``monitor`` (``save_best_only``) or every one.

    ``path`` may contain ``{epoch}`` and any logged name (``'model-{epoch:02d}-{val_loss:.3f}.safetensors'``).
    ``weights_only=True`` writes the state dict with ``lamina.save`` (safetensors); False writes a full
    ``lamina.save_checkpoint`` (model, optimizer, scheduler, epoch, History). ``best_path`` is the last file written.
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
        state = self.state
        if self.weights_only:
            from lamina.serialization import save

            save(state.model.state_dict(), path)
        else:
            from lamina.serialization import save_checkpoint

            save_checkpoint(path, model=state.model, optimizer=state.optimizer, scheduler=state.scheduler,
                            epoch=epoch + 1, history=state.history.to_dict(), extra={})
        self.best_path = path

    def state_dict(self):
        return {"best": self.tracker.best, "best_path": None if self.best_path is None else str(self.best_path)}

    def load_state_dict(self, state):
        self.tracker.best = state["best"]
        self.best_path = None if state["best_path"] is None else Path(state["best_path"])


class LearningRateScheduler(Callback):
    """Set the learning rate each epoch from ``schedule``.

    ``schedule`` is a function ``epoch -> lr`` (or ``(epoch, lr) -> lr``), applied to every parameter group at
    the start of each epoch, or an ``optim.lr_scheduler`` scheduler, stepped at the end of each epoch
    (ReduceLROnPlateau with the logged ``monitor``).
    """

    def __init__(self, schedule, monitor: str = "val_loss"):
        self.schedule = schedule
        self.monitor = monitor
        self.is_scheduler = hasattr(schedule, "step")
        if not self.is_scheduler:
            if not callable(schedule):
                raise TypeError("schedule must be a function epoch -> lr or a learning-rate scheduler")
            self.n_args = len(inspect.signature(schedule).parameters)

    def on_epoch_begin(self, epoch, logs):
        if self.is_scheduler:
            return
        groups = self.state.optimizer.param_groups
        lr = self.schedule(epoch) if self.n_args == 1 else self.schedule(epoch, groups[0]["lr"])
        for group in groups:
            group["lr"] = float(lr)

    def on_epoch_end(self, epoch, logs):
        if not self.is_scheduler:
            return
        from lamina.optim.lr_scheduler import ReduceLROnPlateau

        if isinstance(self.schedule, ReduceLROnPlateau):
            monitor = self.monitor if self.monitor in logs else "loss"
            self.schedule.step(logs[monitor])
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
