"""Training: ``fit``, ``evaluate`` and ``predict``, and the pieces ``fit`` is made of.

- ``loop``: ``train_step`` (one batch: forward, loss, zero_grad, backward, step; the seam for custom loops and
  data-parallel training), ``run_epoch`` and ``fit`` (the epochs, around a ``CallbackList``).
- ``callbacks``: the hooks, the public callbacks, and fit's options (progress bar, NaN stop, gradient
  clipping, learning-rate scheduling, checkpointing) as callbacks.
- ``data``: (X, y) pairs and Datasets into DataLoaders with the targets the loss declares it wants; metrics;
  ``evaluate`` and ``predict``.
- ``health``: ``TrainingHealth``, the callback ``fit`` runs by default: per-layer activation and gradient
  statistics, warnings about vanishing or exploding gradients, dead ReLUs and symmetric units.
- ``state``: ``History``, ``TrainingState`` (what callbacks see) and ``TrainingError``.
- ``language_models``: ``RNNLanguageModel``, ``TransformerLanguageModel`` (decoder-only, causal) and
  ``next_token_loss``; ``generation``: ``sample_next`` (temperature, top-k) and ``generate`` (text from a model).
"""

from lamina.training import callbacks
from lamina.training.callbacks import Callback, CallbackList
from lamina.training.data import evaluate, predict
from lamina.training.generation import generate, sample_next
from lamina.training.health import TrainingHealth
from lamina.training.language_models import RNNLanguageModel, TransformerLanguageModel, next_token_loss
from lamina.training.loop import StepResult, fit, run_epoch, train_step
from lamina.training.state import History, TrainingError, TrainingState

__all__ = ["fit", "evaluate", "predict", "train_step", "run_epoch", "StepResult", "History", "TrainingError",
           "TrainingState", "Callback", "CallbackList", "callbacks", "generate", "sample_next", "RNNLanguageModel",
           "TransformerLanguageModel", "next_token_loss", "TrainingHealth"]
