"""What a run keeps: the ``History`` that ``fit`` returns, the ``TrainingState`` that callbacks see, and the
``TrainingError`` raised when the loss stops being a number."""

from __future__ import annotations


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
    of each parameter's gradient (filled by ``callbacks.GradientMonitor``). ``health`` is the ``TrainingHealth``
    callback that watched the run (None without one). ``interrupted`` is True when Ctrl-C stopped the run.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.gradient_norms: dict[str, list[float]] = {}
        self.health = None
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
    """The run as callbacks see it (``callback.state``): set ``stop_training = True`` to stop after this step.

    ``epoch`` is the current epoch (from 0) and ``step`` the number of batches finished in it, which during a
    batch is that batch's index. ``loader`` (the training DataLoader) and ``callbacks`` (the user's callbacks,
    whose ``state_dict()`` goes into a checkpoint) are what a resumable checkpoint saves besides the
    model, optimizer, scheduler and history.
    """

    def __init__(self, model, optimizer, scheduler, history, epochs, checkpoint, loader=None, callbacks=()):
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
        self.last_checkpoint = None  # path of the last resumable checkpoint actually written
        self.loader = loader
        self.callbacks = list(callbacks)
