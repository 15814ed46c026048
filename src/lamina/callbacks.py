"""``lamina.callbacks`` is ``lamina.training.callbacks`` under the short name Keras users look for (and the README,
the CLI and the tests import from): a module must exist under this name for ``from lamina.callbacks import
EarlyStopping`` to work, so this one re-exports the public callbacks and holds nothing else."""

from lamina.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    GradientMonitor,
    JSONLogger,
    LearningRateScheduler,
    ModelCheckpoint,
)

__all__ = ["Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "CSVLogger",
           "JSONLogger", "GradientMonitor"]
