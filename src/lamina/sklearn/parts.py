"""What the estimators are made of that the ``lamina`` command uses as well, so that each has one implementation:
the optimizer and the loss by name, each task's loss and per-epoch metric, the forward pass that predictions come
from, class labels from outputs, and the figures a prediction scores. NumPy and lamina only: the command imports
this without scikit-learn."""

from __future__ import annotations

import numpy as np

from lamina import metrics, nn, optim
from lamina.training import predict

OPTIMIZERS = {"sgd": optim.SGD, "momentum": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW,
              "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad, "adadelta": optim.Adadelta, "adamax": optim.Adamax,
              "nadam": optim.NAdam, "radam": optim.RAdam, "asgd": optim.ASGD, "rprop": optim.Rprop}
LOSSES = {"cross_entropy": nn.CrossEntropyLoss, "nll": nn.NLLLoss, "mse": nn.MSELoss, "l1": nn.L1Loss,
          "huber": nn.HuberLoss, "smooth_l1": nn.SmoothL1Loss}
# per task: the default loss, and the metric recorded per epoch (fit's metrics=[...], history's 'accuracy' / 'r2')
TASKS = {"classification": {"loss": "cross_entropy", "metric": "accuracy"},
         "regression": {"loss": "mse", "metric": "r2"}}
BLOCK = 64  # rows per forward pass when predicting (see outputs)


def make_optimizer(choice, params, lr: float, weight_decay: float = 0.0, **kwargs) -> optim.Optimizer:
    """An optimizer by name (sgd, momentum = SGD with momentum 0.9, adam, adamw, rmsprop, ...) or class, over
    ``params``, with ``lr``, ``weight_decay`` and the other keyword arguments."""
    if isinstance(choice, str):
        if choice.lower() not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {choice!r}; choose from {', '.join(OPTIMIZERS)} or pass a "
                             "lamina.optim class")
        if choice.lower() == "momentum":
            kwargs = {"momentum": 0.9, **kwargs}
        choice = OPTIMIZERS[choice.lower()]
    if not (isinstance(choice, type) and issubclass(choice, optim.Optimizer)) or choice is optim.LBFGS:
        raise TypeError(f"optimizer must be a name or a lamina.optim Optimizer class (not LBFGS, which needs a "
                        f"closure), got {choice!r}")
    try:
        return choice(params, lr=lr, weight_decay=weight_decay, **kwargs)
    except TypeError as err:
        raise TypeError(f"optimizer {choice.__name__} does not take these arguments: {err}") from None


def make_loss(choice):
    """A loss module from a name in ``LOSSES``, a loss class, or a loss module (or any callable) as it is."""
    if isinstance(choice, str):
        if choice not in LOSSES:
            raise ValueError(f"unknown loss {choice!r}; choose from {', '.join(LOSSES)} or pass a loss module")
        choice = LOSSES[choice]
    if isinstance(choice, type):
        return choice()
    if not callable(choice):
        raise TypeError(f"loss must be a name, a loss class or a loss module, got {type(choice).__name__}")
    return choice


def outputs(module, X) -> np.ndarray:
    """The module's outputs for the samples X (rows, or images), in eval mode, as float64.

    The samples go through the module in blocks of ``BLOCK`` (the last one padded with zeros), so that every
    sample meets the same matrix-product code whatever else is in X: a sample's prediction does not depend on the
    batch it came in (float32 products of different shapes round differently)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    n, pad = len(X), -len(X) % BLOCK
    if pad:
        X = np.concatenate([X, np.zeros((pad, *X.shape[1:]), np.float32)])
    return predict(module, X, batch_size=BLOCK).array[:n].astype(np.float64)


def predicted_classes(outputs, classes=None) -> np.ndarray:
    """The class of each row of a classifier's outputs: the index of its highest output, or with ``classes`` (the
    labels in the order of the outputs) that label."""
    index = np.asarray(outputs).argmax(axis=1)
    return index if classes is None else np.asarray(classes)[index]


def scores(task: str, y_true, y_pred) -> dict:
    """The figures of a prediction in the data's own units: accuracy and macro F1 of class indices, or R², MSE
    and MAE of values."""
    if task == "classification":
        y = np.asarray(y_true, dtype=np.int64).reshape(-1)
        return {"accuracy": metrics.accuracy(y, y_pred), "f1_macro": metrics.f1(y, y_pred, average="macro")}
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    return {"r2": metrics.r2(y, y_pred), "mse": metrics.mse(y, y_pred), "mae": metrics.mae(y, y_pred)}
