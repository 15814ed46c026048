"""Optimizers and learning-rate schedulers with torch.optim's names and semantics."""

from lamina.optim import lr_scheduler
from lamina.optim.adadelta import Adadelta
from lamina.optim.adagrad import Adagrad
from lamina.optim.adam import Adam, AdamW
from lamina.optim.adamax import Adamax
from lamina.optim.asgd import ASGD
from lamina.optim.lbfgs import LBFGS
from lamina.optim.nadam import NAdam
from lamina.optim.optimizer import Optimizer
from lamina.optim.radam import RAdam
from lamina.optim.rmsprop import RMSprop
from lamina.optim.rprop import Rprop
from lamina.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD",
           "Rprop", "LBFGS", "lr_scheduler"]
