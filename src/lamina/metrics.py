"""Metrics on predictions and targets: plain NumPy, inputs may be arrays, Tensors or lists, results Python floats.

Conventions (decided once for the whole module)

* Functions take ``(y_true, y_pred)`` in that order, as scikit-learn's do, and give the same numbers.
* Classification functions take as ``y_pred`` either class indices or a model's raw outputs, which
  ``predicted_classes`` turns into class indices:

  ====================================  ==========================================================================
  integer or bool, shape (N,) / (N, 1)  class indices, used as they are
  float, shape (N, C) with C >= 2       argmax over C: logits, scores and probabilities alike
  float, shape (N,) / (N, 1)            one-output binary classifier: class 1 where output > threshold.
                                        ``threshold=None`` (the default) picks 0.5 when every output lies in
                                        [0, 1] (probabilities after a sigmoid) and 0.0 otherwise (logits);
                                        pass 0.5 or 0.0 to decide yourself.
  ====================================  ==========================================================================

  So class indices must come as integers: a float vector is always read as one-output scores.
  ``y_true`` holds class indices, (N,) or (N, 1): integers, or whole-number floats such as BCE targets 0.0/1.0.
* Regression functions compare ``y_pred`` with ``y_true`` element by element; (N,) and (N, 1) are the same.
  Multi-output (N, k) values are averaged uniformly over outputs, as scikit-learn does.
* Sums accumulate in float64 so that a metric over many float32 samples matches scikit-learn.
* ``get_metric(name)`` gives the training loop a ``Metric``: it is called like a loss, ``metric(outputs, targets)``,
  on the model's raw outputs, and knows ``higher_is_better`` and its ``input``: 'classes' (outputs are turned
  into classes as above), 'scores' (needs (N, C) outputs) or 'values' (compared as they are). Its precision,
  recall and f1 use average='binary' (positive class 1) when the outputs have one or two columns (or the labels
  are all 0/1), else 'macro'.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lamina.data.dataset import as_labels
from lamina.tensor import Tensor

__all__ = ["accuracy", "top_k_accuracy", "precision", "recall", "f1", "confusion_matrix", "mse", "mae", "r2",
           "predicted_classes", "Metric", "get_metric", "METRICS"]


def _array(x) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _vector(a: np.ndarray, what: str, fn: str) -> np.ndarray:
    """(N,) or (N, 1) -> (N,)."""
    if a.ndim == 2 and a.shape[1] == 1:
        return a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{fn}: {what} must have shape (N,) or (N, 1), got {a.shape}")
    return a


def predicted_classes(outputs, threshold: float | None = None) -> np.ndarray:
    """Class indices (int64, shape (N,)) from class indices or raw outputs; see the table at the top."""
    out = _array(outputs)
    if out.dtype.kind in "biu":
        return _vector(out, "class predictions", "predicted_classes").astype(np.int64)
    if out.dtype.kind != "f":
        raise TypeError(f"predicted_classes: outputs must be numeric, got dtype {out.dtype}")
    if out.ndim == 2 and out.shape[1] >= 2:
        return out.argmax(axis=1)
    out = _vector(out, "outputs", "predicted_classes")
    if threshold is None:
        threshold = 0.5 if out.size and out.min() >= 0 and out.max() <= 1 else 0.0
    return (out > threshold).astype(np.int64)


def _classes(y_true, y_pred, threshold, fn: str) -> tuple[np.ndarray, np.ndarray]:
    t = _vector(as_labels(_array(y_true)).array, "y_true", fn)
    p = predicted_classes(y_pred, threshold)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{fn}: y_true has {t.shape[0]} samples but y_pred has {p.shape[0]}")
    if t.shape[0] == 0:
        raise ValueError(f"{fn}: no samples")
    if min(t.min(), p.min()) < 0:
        raise ValueError(f"{fn}: class indices must be non-negative")
    return t, p


# ---------------------------------------------------------------------------------------------------------------
# classification
# ---------------------------------------------------------------------------------------------------------------
def accuracy(y_true, y_pred, threshold: float | None = None) -> float:
    """The fraction of samples whose predicted class is the true one."""
    t, p = _classes(y_true, y_pred, threshold, "accuracy")
    return float(np.mean(t == p, dtype=np.float64))


def top_k_accuracy(y_true, y_score, k: int = 5) -> float:
    """The fraction of samples whose true class is among the k highest scores (ties broken arbitrarily)."""
    scores = _array(y_score)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"top_k_accuracy: y_score must be class scores of shape (N, C), got {scores.shape}")
    t = _vector(as_labels(_array(y_true)).array, "y_true", "top_k_accuracy")
    if t.shape[0] != scores.shape[0]:
        raise ValueError(f"top_k_accuracy: y_true has {t.shape[0]} samples but y_score has {scores.shape[0]}")
    if k < 1:
        raise ValueError(f"top_k_accuracy: k must be at least 1, got {k}")
    if k >= scores.shape[1]:
        return 1.0
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float(np.mean((top == t[:, None]).any(axis=1), dtype=np.float64))


def confusion_matrix(y_true, y_pred, num_classes: int | None = None, threshold: float | None = None) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j (int64, num_classes x num_classes)."""
    t, p = _classes(y_true, y_pred, threshold, "confusion_matrix")
    largest = int(max(t.max(), p.max()))
    if num_classes is None:
        num_classes = largest + 1
    elif largest >= num_classes:
        raise ValueError(f"confusion_matrix: class index {largest} is out of range for num_classes={num_classes}")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def _per_class(y_true, y_pred, average: str, threshold, fn: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, predicted positives, actual positives) per class considered by ``average``."""
    cm = confusion_matrix(y_true, y_pred, threshold=threshold).astype(np.float64)
    if average == "binary":
        if len(cm) > 2:
            raise ValueError(f"{fn}: average='binary' needs labels in {{0, 1}}, got classes up to {len(cm) - 1}; "
                             "use average='macro'")
        cm = np.pad(cm, (0, 2 - len(cm)))
    tp, predicted, actual = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    if average == "binary":
        return tp[1:], predicted[1:], actual[1:]
    if average == "macro":
        present = (predicted + actual) > 0  # classes seen in y_true or y_pred, as scikit-learn
        return tp[present], predicted[present], actual[present]
    raise ValueError(f"{fn}: average must be 'binary' or 'macro', got {average!r}")


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    """Mean of num/den over classes, with 0 where den is 0 (scikit-learn's zero_division default)."""
    return float(np.mean(np.divide(num, den, out=np.zeros_like(num), where=den > 0)))


def precision(y_true, y_pred, average: str = "binary", threshold: float | None = None) -> float:
    """tp / (tp + fp): of the samples predicted positive, the fraction that are. 'macro' averages over classes."""
    tp, predicted, _ = _per_class(y_true, y_pred, average, threshold, "precision")
    return _ratio(tp, predicted)


def recall(y_true, y_pred, average: str = "binary", threshold: float | None = None) -> float:
    """tp / (tp + fn): of the positive samples, the fraction found. 'macro' averages over classes."""
    tp, _, actual = _per_class(y_true, y_pred, average, threshold, "recall")
    return _ratio(tp, actual)


def f1(y_true, y_pred, average: str = "binary", threshold: float | None = None) -> float:
    """2·tp / (2·tp + fp + fn), the harmonic mean of precision and recall. 'macro' averages per-class F1."""
    tp, predicted, actual = _per_class(y_true, y_pred, average, threshold, "f1")
    return _ratio(2 * tp, predicted + actual)


# ---------------------------------------------------------------------------------------------------------------
# regression
# ---------------------------------------------------------------------------------------------------------------
def _values(y_true, y_pred, fn: str) -> tuple[np.ndarray, np.ndarray]:
    t, p = _array(y_true), _array(y_pred)
    if t.shape != p.shape:  # (N,) against (N, 1) is fine; anything else is a mistake
        t = t.reshape(-1) if t.ndim == 2 and t.shape[1] == 1 else t
        p = p.reshape(-1) if p.ndim == 2 and p.shape[1] == 1 else p
        if t.shape != p.shape:
            raise ValueError(f"{fn}: y_true has shape {_array(y_true).shape} but y_pred has shape "
                             f"{_array(y_pred).shape}")
    if t.size == 0:
        raise ValueError(f"{fn}: no samples")
    return t.astype(np.float64), p.astype(np.float64)


def mse(y_true, y_pred) -> float:
    """Mean squared error: mean((y − ŷ)²)."""
    t, p = _values(y_true, y_pred, "mse")
    return float(np.mean((t - p) ** 2))


def mae(y_true, y_pred) -> float:
    """Mean absolute error: mean(|y − ŷ|)."""
    t, p = _values(y_true, y_pred, "mae")
    return float(np.mean(np.abs(t - p)))


def r2(y_true, y_pred) -> float:
    """Coefficient of determination 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (per output, then averaged). A constant y_true
    scores 1.0 if predicted exactly, else 0.0, as scikit-learn."""
    t, p = _values(y_true, y_pred, "r2")
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    residual = ((t - p) ** 2).sum(axis=0)
    total = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    score = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.where(residual == 0, 1.0, 0.0))
    return float(score.mean())


# ---------------------------------------------------------------------------------------------------------------
# registry for the training loop
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A named metric for the training loop: ``metric(outputs, targets) -> float`` on raw model outputs."""

    name: str
    fn: Callable  # fn(outputs, targets) -> float
    higher_is_better: bool
    input: str  # 'classes', 'scores' or 'values'

    def __call__(self, outputs, targets) -> float:
        return self.fn(outputs, targets)


def _auto_average(outputs, targets) -> str:
    out = _array(outputs)
    if out.dtype.kind == "f":
        return "binary" if out.ndim == 1 or out.shape[-1] <= 2 else "macro"
    return "binary" if max(out.max(initial=0), _array(targets).max(initial=0)) <= 1 else "macro"


def _averaged(fn, threshold):
    return lambda out, y: fn(y, out, average=_auto_average(out, y), threshold=threshold)


def _top_k_metric(k: int) -> Metric:
    return Metric(f"top{k}_accuracy", lambda out, y: top_k_accuracy(y, out, k), True, "scores")


def _registry(threshold) -> dict[str, Metric]:
    def classes(name, fn):
        return Metric(name, fn, True, "classes")

    return {
        "accuracy": classes("accuracy", lambda out, y: accuracy(y, out, threshold=threshold)),
        "precision": classes("precision", _averaged(precision, threshold)),
        "recall": classes("recall", _averaged(recall, threshold)),
        "f1": classes("f1", _averaged(f1, threshold)),
        "top5_accuracy": _top_k_metric(5),
        "mse": Metric("mse", lambda out, y: mse(y, out), False, "values"),
        "mae": Metric("mae", lambda out, y: mae(y, out), False, "values"),
        "r2": Metric("r2", lambda out, y: r2(y, out), True, "values"),
    }


METRICS = tuple(_registry(None))


def get_metric(name: str, threshold: float | None = None) -> Metric:
    """The Metric called ``name`` (one of METRICS, or 'top<k>_accuracy' for any k). ``threshold`` is for
    one-output binary classifiers (see the module docstring); None picks it from the outputs' range."""
    registry = _registry(threshold)
    if name in registry:
        return registry[name]
    top_k = re.fullmatch(r"top(\d+)_accuracy", name)
    if top_k:
        return _top_k_metric(int(top_k.group(1)))
    raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)} (or top<k>_accuracy)")
