"""The pruning callback: an Optuna study's pruner (Hyperband, median, ...) as a lamina callback."""

from __future__ import annotations

import math

from lamina.training.callbacks import Callback


class PruningCallback(Callback):
    """Report ``logs[monitor]`` to an Optuna ``trial`` after every epoch (its step is the epoch, from 0) and raise
    ``optuna.TrialPruned`` when the study's pruner says the trial is not worth finishing.

    Pass it to ``lamina.fit(..., callbacks=[PruningCallback(trial, 'val_accuracy')])``, to a ``LaminaClassifier``'s
    ``callbacks``, or call ``on_epoch_end(epoch, {'val_accuracy': value})`` from a training loop of your own.
    ``pruned_epoch`` is the epoch (from 0) at which it pruned, else None. A NaN value is reported as the worst
    possible one, so a diverging trial is pruned rather than kept.
    """

    def __init__(self, trial, monitor: str = "val_loss"):
        self.trial = trial
        self.monitor = monitor
        self.pruned_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        import optuna  # present whenever there is a trial to report to

        if self.monitor not in logs:
            hint = " (train with validation data to get val_* values)" if self.monitor.startswith("val_") else ""
            raise KeyError(f"PruningCallback monitors {self.monitor!r} but the epoch logs only have "
                           f"{', '.join(sorted(logs))}{hint}")
        value = float(logs[self.monitor])
        if math.isnan(value):
            maximize = self.trial.study.direction == optuna.study.StudyDirection.MAXIMIZE
            value = -math.inf if maximize else math.inf
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned_epoch = epoch
            if self.state is not None:
                self.state.stop_training = True
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: {self.monitor}={value:.4g}")
