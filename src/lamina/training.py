"""The training loop: ``fit``, ``evaluate`` and ``predict``, and the ``History`` that ``fit`` records.

``fit`` is one function, not a class: it runs the PyTorch loop (forward, loss, zero_grad, backward, step) over
the batches of each epoch, and around it the Keras comforts: validation, metrics, callbacks, a progress bar,
a scheduler, a checkpoint after every epoch and resuming from it bit for bit.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from lamina.autograd.grad_mode import no_grad
from lamina.data.dataset import as_features
from lamina.tensor import Tensor

__all__ = ["fit", "evaluate", "predict", "History", "TrainingError", "TrainingState"]

# losses whose targets are real numbers even when the labels come as integers (0/1)
_FLOAT_TARGET_LOSSES = {"BCEWithLogitsLoss", "BCELoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"}
# losses whose 1-D targets are class indices even when they come as whole-number floats (0.0, 1.0, ...)
_CLASS_TARGET_LOSSES = {"CrossEntropyLoss", "NLLLoss"}
# schedulers meant to step after every batch rather than every epoch
_BATCH_SCHEDULERS = {"OneCycleLR", "CyclicLR"}


class TrainingError(FloatingPointError):
    """Training cannot go on: the loss became NaN or infinite. Carries ``epoch`` and ``step`` (counted from 1),
    ``checkpoint`` (the last good one, or None) and ``history`` (the epochs completed before)."""

    def __init__(self, message, epoch=None, step=None, checkpoint=None, history=None):
        super().__init__(message)
        self.epoch, self.step, self.checkpoint, self.history = epoch, step, checkpoint, history


class History:
    """What ``fit`` recorded, one entry per epoch.

    ``history.history`` is a dict of lists as in Keras: 'loss', 'val_loss', one key per metric (and 'val_' + it),
    'lr', 'epoch_time' (seconds) and 'samples_per_sec'. ``gradient_norms[name]`` holds, per epoch, the mean L2 norm
    of each parameter's gradient (filled by ``callbacks.GradientMonitor``). ``interrupted`` is True when Ctrl-C
    stopped the run.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.gradient_norms: dict[str, list[float]] = {}
        self.interrupted = False

    def record(self, epoch: int, logs: dict) -> None:
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def last(self) -> dict[str, float]:
        """The logs of the last recorded epoch."""
        return {k: v[-1] for k, v in self.history.items() if v}

    def to_dict(self) -> dict:
        """A JSON-friendly copy."""
        return {
            "epoch": list(self.epoch),
            "history": {k: list(v) for k, v in self.history.items()},
            "gradient_norms": {k: list(v) for k, v in self.gradient_norms.items()},
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_dict(cls, d: dict) -> History:
        h = cls()
        h.epoch = [int(e) for e in d.get("epoch", [])]
        h.history = {k: [float(x) for x in v] for k, v in d.get("history", {}).items()}
        h.gradient_norms = {k: [float(x) for x in v] for k, v in d.get("gradient_norms", {}).items()}
        h.interrupted = bool(d.get("interrupted", False))
        return h

    def __repr__(self):
        last = ", ".join(f"{k}={v:.4g}" for k, v in self.last().items())
        flag = ", interrupted" if self.interrupted else ""
        return f"History({len(self)} epochs{flag}: {last})"


class TrainingState:
    """The run as callbacks see it (``callback.state``): set ``stop_training = True`` to stop after this step."""

    def __init__(self, model, optimizer, scheduler, history, epochs, checkpoint):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.history = history
        self.epochs = epochs
        self.epoch = 0
        self.step = 0
        self.stop_training = False
        self.interrupted = False
        self.checkpoint = checkpoint  # path of the checkpoint fit writes after each epoch, or None
        self.last_checkpoint = None  # path of the last checkpoint actually written


# ---------------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------------
def _targets(y, loss):
    """A Tensor of targets: integer labels become int64 (float32 for losses that want real-valued targets);
    whole-number float labels become int64 for CrossEntropyLoss / NLLLoss."""
    arr = y.array if isinstance(y, Tensor) else np.asarray(y)
    kinds = {k.__name__ for k in type(loss).__mro__}
    wants_float = bool(kinds & _FLOAT_TARGET_LOSSES)
    if arr.ndim == 1 and arr.dtype.kind == "f" and kinds & _CLASS_TARGET_LOSSES:
        from lamina.data import as_labels

        return as_labels(arr)  # refuses non-integer values with a clear message
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float32 if wants_float else np.int64, copy=False)
    elif arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return Tensor._make(arr, False, None)


def _loader(data, batch_size: int, shuffle: bool, loss, what: str):
    """A DataLoader from a DataLoader, a Dataset or an (X, y) pair."""
    from lamina.data import DataLoader, TensorDataset

    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise TypeError(f"{what} must be a DataLoader, a Dataset or an (X, y) pair, got a sequence of {len(data)}")
        x, y = as_features(data[0]), _targets(data[1], loss)
        if x.shape[:1] != y.shape[:1]:
            raise ValueError(f"{what}: X has {x.shape[0] if x.ndim else 0} samples but y has "
                             f"{y.shape[0] if y.ndim else 0}")
        data = TensorDataset(x, y)
    elif not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(f"{what} must be a DataLoader, a Dataset or an (X, y) pair, got {type(data).__name__}")
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle)


def _split_batch(batch, what):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    raise TypeError(f"{what}: each batch must be an (inputs, targets) pair, got {type(batch).__name__}")


# ---------------------------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------------------------
def _metric_fns(metrics) -> dict:
    """{name: fn(outputs, targets) -> float} from metric names or callables."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    from lamina import metrics as M

    fns = {}
    for m in metrics:
        if isinstance(m, str):
            fns[m] = M.get_metric(m)
        elif callable(m):
            fns[getattr(m, "__name__", type(m).__name__)] = m
        else:
            raise TypeError(f"a metric must be a name or a callable, got {m!r}")
    return fns


def _compute_metrics(fns: dict, outputs: list, targets: list, prefix: str = "") -> dict:
    if not fns or not outputs:
        return {}
    out = Tensor._make(np.concatenate(outputs), False, None)
    y = Tensor._make(np.concatenate(targets), False, None)
    return {prefix + name: float(fn(out, y)) for name, fn in fns.items()}


# ---------------------------------------------------------------------------------------------------------------
# evaluate / predict
# ---------------------------------------------------------------------------------------------------------------
class _eval_mode:
    """Run the model in eval mode without a graph, then put its previous mode back."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was_training = getattr(self.model, "training", False)
        self.no_grad = no_grad()
        self.no_grad.__enter__()
        if hasattr(self.model, "eval"):
            self.model.eval()

    def __exit__(self, *exc):
        if hasattr(self.model, "train"):
            self.model.train(self.was_training)
        self.no_grad.__exit__(*exc)
        return False


def _evaluate_loader(model, loader, loss, metric_fns, prefix="") -> dict:
    total, seen, outputs, targets = 0.0, 0, [], []
    with _eval_mode(model):
        for batch in loader:
            x, y = _split_batch(batch, "evaluate")
            out = model(x)
            n = out.shape[0]
            if loss is not None:
                total += float(loss(out, y).array) * n
            seen += n
            if metric_fns:
                outputs.append(out.array)
                targets.append(y.array)
    logs = {}
    if loss is not None:
        logs[prefix + "loss"] = total / max(seen, 1)
    logs.update(_compute_metrics(metric_fns, outputs, targets, prefix))
    return logs


def evaluate(model, data, loss=None, metrics=(), batch_size: int = 256) -> dict:
    """The mean loss and the metrics of ``model`` on ``data`` (DataLoader, Dataset or (X, y)), in eval mode."""
    loader = _loader(data, batch_size, False, loss, "evaluate data")
    return _evaluate_loader(model, loader, loss, _metric_fns(metrics))


def predict(model, x, batch_size: int = 256) -> Tensor:
    """The model's outputs for ``x`` (array, Tensor, Dataset or DataLoader), batch by batch, in eval mode."""
    if isinstance(x, (np.ndarray, Tensor, list)):
        x = as_features(x)
        batches = (x[i:i + batch_size] for i in range(0, x.shape[0], batch_size))
    else:
        from lamina.data import DataLoader

        loader = x if isinstance(x, DataLoader) else DataLoader(x, batch_size=batch_size, shuffle=False)
        batches = (b[0] if isinstance(b, (tuple, list)) else b for b in loader)
    outputs = []
    with _eval_mode(model):
        for xb in batches:
            outputs.append(model(xb).array)
    if not outputs:
        raise ValueError("predict: no input samples")
    return Tensor._make(np.concatenate(outputs), False, None)


# ---------------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------------
def _checkpoint_path(checkpoint) -> Path | None:
    """A checkpoint file from a file path or a directory (given as an existing folder or a path without suffix)."""
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    if path.is_dir() or not path.suffix:
        path = path / "checkpoint.ckpt"
    return path


def _save_checkpoint(state: TrainingState, epoch: int, loader, callbacks) -> None:
    from lamina.serialization import save_checkpoint

    extra = {"callbacks": [cb.state_dict() for cb in callbacks]}
    generator = getattr(loader, "generator", None)
    if generator is not None:
        extra["loader_generator"] = generator.get_state()
    state.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(state.checkpoint, model=state.model, optimizer=state.optimizer, scheduler=state.scheduler,
                    epoch=epoch, history=state.history.to_dict(), extra=extra)
    state.last_checkpoint = state.checkpoint


def _resume(path, state: TrainingState, loader, callbacks) -> int:
    """Restore a checkpoint written by fit; returns the number of epochs it had completed."""
    from lamina.serialization import load_checkpoint

    path = _checkpoint_path(path)
    if not path.exists():
        raise FileNotFoundError(f"cannot resume: no checkpoint at {path}")
    ckpt = load_checkpoint(path, model=state.model, optimizer=state.optimizer, scheduler=state.scheduler)
    saved = ckpt.get("history")
    if saved:
        restored = History.from_dict(saved)
        state.history.__dict__.update(restored.__dict__)
        state.history.interrupted = False
    extra = ckpt.get("extra") or {}
    generator = getattr(loader, "generator", None)
    if generator is not None and "loader_generator" in extra:
        generator.set_state(extra["loader_generator"])
    for cb, cb_state in zip(callbacks, extra.get("callbacks", [])):
        cb.load_state_dict(cb_state)
    state.last_checkpoint = path
    return int(ckpt["epoch"])


# ---------------------------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------------------------
class _CtrlC:
    """While training, the first Ctrl-C asks the loop to stop after the current step; a second one aborts."""

    def __init__(self, state: TrainingState):
        self.state = state
        self.previous = None

    def _handler(self, signum, frame):
        if self.state.interrupted:
            raise KeyboardInterrupt
        self.state.interrupted = True
        self.state.stop_training = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _format_logs(logs: dict) -> str:
    shown = [f"{k}={v:.4g}" for k, v in logs.items() if k not in ("epoch_time", "lr", "samples_per_sec")]
    return ", ".join(shown + [f"{logs['samples_per_sec']:.0f} samples/s"])


def fit(model, train, *, loss, optimizer, epochs: int, val=None, metrics=(), callbacks=(), scheduler=None,
        batch_size: int = 32, shuffle: bool = True, progress=True, checkpoint=None, resume=None,
        scheduler_interval: str | None = None, clip_grad_norm: float | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return the ``History``.

    ``train``/``val``: a DataLoader, a Dataset or an (X, y) pair of arrays or Tensors. ``loss``: a loss module
    (e.g. ``nn.CrossEntropyLoss()``). ``metrics``: names from ``lamina.metrics`` or callables f(outputs, targets).
    ``scheduler`` steps once per epoch (ReduceLROnPlateau with the val loss, or the train loss without val data),
    or after every batch when ``scheduler_interval='batch'`` (the default for OneCycleLR and CyclicLR).
    ``progress``: a tqdm bar per epoch (True: on stderr; or a stream to write to; False: silent).
    ``checkpoint``: file or folder where a full checkpoint is written after every epoch; ``resume``: a
    checkpoint to continue from (``resume=True``: the ``checkpoint`` one), with the same weights, optimizer,
    scheduler, RNG state and History, so the resumed run ends bit for bit where an uninterrupted one would.
    A NaN or infinite loss raises ``TrainingError``; Ctrl-C stops after the current step and returns the
    History with ``interrupted=True``.
    """
    from lamina.callbacks import Callback

    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    train_loader = _loader(train, batch_size, shuffle, loss, "train")
    val_loader = None if val is None else _loader(val, max(batch_size, 256), False, loss, "val")
    metric_fns = _metric_fns(metrics)
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be lamina.callbacks.Callback instances, got {type(cb).__name__}")
    if scheduler_interval is None:
        scheduler_interval = "batch" if type(scheduler).__name__ in _BATCH_SCHEDULERS else "epoch"
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if resume is True:
        if checkpoint is None:
            raise ValueError("resume=True needs checkpoint= to say where the checkpoint is")
        resume = checkpoint
    if checkpoint is None and resume is not None:
        checkpoint = resume
    history = History()
    state = TrainingState(model, optimizer, scheduler, history, epochs, _checkpoint_path(checkpoint))
    for cb in callbacks:
        cb.set_state(state)
    start = 0 if resume is None else _resume(resume, state, train_loader, callbacks)

    stream = None if progress is False else (sys.stderr if progress is True else progress)
    batch_callbacks = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
    per_batch_scheduler = scheduler if scheduler_interval == "batch" else None
    params = [p for p in model.parameters() if p.requires_grad] if clip_grad_norm else None
    if clip_grad_norm:
        from lamina.nn.utils import clip_grad_norm_
    was_training = getattr(model, "training", True)

    for cb in callbacks:
        cb.on_train_begin({"initial_epoch": start})
    bar = None
    try:
        with _CtrlC(state):
            for epoch in range(start, epochs):
                state.epoch, state.step = epoch, 0
                model.train()
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {})
                lr = optimizer.param_groups[0]["lr"]
                bar = _progress_bar(stream, train_loader, epoch, epochs)
                total, seen, outputs, targets = 0.0, 0, [], []
                started = last_shown = time.perf_counter()
                for step, batch in enumerate(train_loader):
                    x, y = _split_batch(batch, "train")
                    out = model(x)
                    loss_value = loss(out, y)
                    value = float(loss_value.array)
                    if not math.isfinite(value):
                        raise TrainingError(_nan_message(value, epoch, step, state.last_checkpoint), epoch + 1,
                                            step + 1, state.last_checkpoint, history)
                    optimizer.zero_grad()
                    loss_value.backward()
                    if params is not None:
                        clip_grad_norm_(params, clip_grad_norm)
                    optimizer.step()
                    if per_batch_scheduler is not None:
                        per_batch_scheduler.step()
                    n = out.shape[0]
                    total += value * n
                    seen += n
                    if metric_fns:
                        outputs.append(out.array)
                        targets.append(y.array)
                    state.step = step + 1
                    if batch_callbacks:
                        logs = {"loss": value, "size": n}
                        for cb in batch_callbacks:
                            cb.on_batch_end(step, logs)
                    if bar is not None:
                        bar.update(1)
                        now = time.perf_counter()
                        if now - last_shown > 0.2:
                            last_shown = now
                            bar.set_postfix_str(f"loss={total / seen:.4g}, {seen / (now - started):.0f} samples/s",
                                                refresh=False)
                    if state.stop_training:
                        break
                if state.interrupted:
                    break
                elapsed = time.perf_counter() - started
                logs = {"loss": total / max(seen, 1)}
                logs.update(_compute_metrics(metric_fns, outputs, targets))
                outputs = targets = None
                if val_loader is not None:
                    logs.update(_evaluate_loader(model, val_loader, loss, metric_fns, prefix="val_"))
                logs.update(lr=lr, epoch_time=elapsed, samples_per_sec=seen / elapsed if elapsed > 0 else 0.0)
                if scheduler is not None and scheduler_interval == "epoch":
                    _step_scheduler(scheduler, logs)
                history.record(epoch, logs)
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                if bar is not None:
                    bar.set_postfix_str(_format_logs(logs), refresh=False)
                    bar.close()
                    bar = None
                if state.checkpoint is not None:
                    _save_checkpoint(state, epoch + 1, train_loader, callbacks)
                if state.stop_training:
                    break
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        if bar is not None:
            bar.close()
        if hasattr(model, "train"):
            model.train(was_training)
    if state.interrupted:
        history.interrupted = True
        if stream is not None:
            kept = f"; last checkpoint: {state.last_checkpoint}" if state.last_checkpoint else ""
            print(f"training interrupted at epoch {state.epoch + 1}, step {state.step}{kept}", file=stream)
    for cb in callbacks:
        cb.on_train_end({"interrupted": state.interrupted})
    return history


def _step_scheduler(scheduler, logs: dict) -> None:
    from lamina.optim.lr_scheduler import ReduceLROnPlateau

    if isinstance(scheduler, ReduceLROnPlateau):
        scheduler.step(logs.get("val_loss", logs["loss"]))
    else:
        scheduler.step()


def _nan_message(value, epoch, step, last_checkpoint) -> str:
    where = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was saved"
    return (f"the loss became {value} at epoch {epoch + 1}, step {step + 1}: training stopped ({where}); "
            "try a smaller learning rate or gradient clipping")


def _progress_bar(stream, loader, epoch, epochs):
    if stream is None:
        return None
    from tqdm import tqdm

    try:
        total = len(loader)
    except TypeError:
        total = None
    return tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", file=stream, leave=True,
                dynamic_ncols=True, mininterval=0.2)
