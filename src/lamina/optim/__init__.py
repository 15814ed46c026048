"""Optimizers and learning-rate schedulers with torch.optim's names and semantics."""

from lamina.optim import lr_scheduler
from lamina.optim.adagrad import Adagrad
from lamina.optim.adam import Adam, AdamW
from lamina.optim.optimizer import Optimizer
from lamina.optim.rmsprop import RMSprop
from lamina.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
