"""Data in, numbers out: (X, y) pairs and Datasets become DataLoaders with the targets the loss wants; metric
names become functions; ``evaluate`` and ``predict`` run a model over data in eval mode."""

from __future__ import annotations

import numpy as np

from lamina import metrics as M
from lamina.autograd.grad_mode import no_grad
from lamina.data import DataLoader, TensorDataset, as_labels
from lamina.data.dataset import as_features
from lamina.tensor import Tensor, from_numpy


# ---------------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------------
def targets(y, loss):
    """A Tensor of targets, typed by the loss's ``target_kind`` (a class attribute of the ``nn`` losses):
    'real' turns integer labels into float32, 'class' turns whole-number float labels of shape (N,) into int64
    class indices; otherwise integer labels become int64. float64 becomes float32."""
    arr = y.array if isinstance(y, Tensor) else np.asarray(y)
    kind = getattr(loss, "target_kind", None)
    if arr.ndim == 1 and arr.dtype.kind == "f" and kind == "class":
        return as_labels(arr)  # refuses non-integer values with a clear message
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float32 if kind == "real" else np.int64, copy=False)
    elif arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return from_numpy(arr)


def loader(data, batch_size: int, shuffle: bool, loss, what: str) -> DataLoader:
    """A DataLoader from a DataLoader, a Dataset or an (X, y) pair."""
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise TypeError(f"{what} must be a DataLoader, a Dataset or an (X, y) pair, got a sequence of {len(data)}")
        x, y = as_features(data[0]), targets(data[1], loss)
        if x.shape[:1] != y.shape[:1]:
            raise ValueError(f"{what}: X has {x.shape[0] if x.ndim else 0} samples but y has "
                             f"{y.shape[0] if y.ndim else 0}")
        data = TensorDataset(x, y)
    elif not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(f"{what} must be a DataLoader, a Dataset or an (X, y) pair, got {type(data).__name__}")
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle)


def split_batch(batch, what: str):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    raise TypeError(f"{what}: each batch must be an (inputs, targets) pair, got {type(batch).__name__}")


# ---------------------------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------------------------
def metric_fns(metrics) -> dict:
    """{name: fn(outputs, targets) -> float} from metric names or callables."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    fns = {}
    for m in metrics:
        if isinstance(m, str):
            fns[m] = M.get_metric(m)
        elif callable(m):
            fns[getattr(m, "__name__", type(m).__name__)] = m
        else:
            raise TypeError(f"a metric must be a name or a callable, got {m!r}")
    return fns


def compute_metrics(fns: dict, outputs: list, targets: list, prefix: str = "") -> dict:
    if not fns or not outputs:
        return {}
    out = from_numpy(np.concatenate(outputs))
    y = from_numpy(np.concatenate(targets))
    return {prefix + name: float(fn(out, y)) for name, fn in fns.items()}


# ---------------------------------------------------------------------------------------------------------------
# evaluate / predict
# ---------------------------------------------------------------------------------------------------------------
class eval_mode:
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


def evaluate_loader(model, loader, loss, metric_fns, prefix="") -> dict:
    total, seen, outputs, targets = 0.0, 0, [], []
    with eval_mode(model):
        for batch in loader:
            x, y = split_batch(batch, "evaluate")
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
    logs.update(compute_metrics(metric_fns, outputs, targets, prefix))
    return logs


def evaluate(model, data, loss=None, metrics=(), batch_size: int = 256) -> dict:
    """The mean loss and the metrics of ``model`` on ``data`` (DataLoader, Dataset or (X, y)), in eval mode."""
    return evaluate_loader(model, loader(data, batch_size, False, loss, "evaluate data"), loss, metric_fns(metrics))


def predict(model, x, batch_size: int = 256) -> Tensor:
    """The model's outputs for ``x`` (array, Tensor, Dataset or DataLoader), batch by batch, in eval mode."""
    if isinstance(x, (np.ndarray, Tensor, list)):
        x = as_features(x)
        batches = (x[i:i + batch_size] for i in range(0, x.shape[0], batch_size))
    else:
        data = x if isinstance(x, DataLoader) else DataLoader(x, batch_size=batch_size, shuffle=False)
        batches = (b[0] if isinstance(b, (tuple, list)) else b for b in data)
    outputs = []
    with eval_mode(model):
        for xb in batches:
            outputs.append(model(xb).array)
    if not outputs:
        raise ValueError("predict: no input samples")
    return from_numpy(np.concatenate(outputs))
