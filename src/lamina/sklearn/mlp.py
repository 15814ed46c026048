"""The multilayer perceptron of the estimators and of the ``lamina`` command, and the scalers of features and of
regression targets that the command keeps in a run's config (the estimators leave scaling to a
``StandardScaler`` in a Pipeline, as scikit-learn's own networks do)."""

from __future__ import annotations

import numpy as np

from lamina import nn
from lamina.sklearn.parts import predicted_classes

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU", "gelu": "GELU"}


def mlp(n_features: int, n_outputs: int, hidden=(100,), activation: str = "relu", dropout: float = 0.0,
        batchnorm: bool = False) -> nn.Sequential:
    """[Linear, BatchNorm1d?, activation, Dropout?] per entry of ``hidden``, then a Linear to the outputs."""
    if isinstance(hidden, (int, np.integer)):
        hidden = (int(hidden),)
    try:
        hidden = tuple(int(h) for h in hidden)
    except (TypeError, ValueError):
        raise ValueError(f"hidden layer sizes must be a sequence of positive integers, got {hidden!r}") from None
    if any(h < 1 for h in hidden):
        raise ValueError(f"hidden layer sizes must be positive, got {hidden!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS)}")
    if not 0 <= float(dropout) < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    layers, width = [], int(n_features)
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batchnorm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(getattr(nn, ACTIVATIONS[activation])())
        if dropout:
            layers.append(nn.Dropout(float(dropout)))
        width = h
    layers.append(nn.Linear(width, int(n_outputs)))
    return nn.Sequential(*layers)


def build_mlp(config: dict) -> nn.Module:
    """The MLP a ``lamina`` run's config describes (n_features, n_outputs, hidden, activation, dropout?,
    batchnorm?)."""
    return mlp(config["n_features"], config["n_outputs"], config["hidden"], config["activation"],
               config.get("dropout") or 0.0, bool(config.get("batchnorm")))


def fit_scaler(X) -> dict:
    """A StandardScaler's per-feature mean and scale, fitted on the raw training rows."""
    from sklearn.preprocessing import StandardScaler  # scikit-learn takes ~1 s to import: only when a run is prepared

    s = StandardScaler().fit(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
    return {"scaler": {"mean": s.mean_.tolist(), "scale": s.scale_.tolist()}}


def scale_rows(X, config: dict) -> np.ndarray:
    """Raw feature rows standardised by the run's scaler, float32."""
    scaler = config["scaler"]
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    return ((X - np.asarray(scaler["mean"], np.float32)) / np.asarray(scaler["scale"], np.float32)).astype(np.float32)


def fit_target_scaler(y) -> dict:
    """The mean and standard deviation (1 for a constant target) of the raw regression targets."""
    y = np.asarray(y, dtype=np.float64)
    return {"target_scaler": {"mean": float(y.mean()), "scale": float(y.std() or 1.0)}}


def scale_targets(y, config: dict) -> np.ndarray:
    """Raw regression targets standardised by the run's target scaler: the (N, 1) float32 column the MLP learns."""
    t = config["target_scaler"]
    return ((np.asarray(y).astype(np.float64) - t["mean"]) / t["scale"]).astype(np.float32).reshape(-1, 1)


def unscale_targets(outputs, config: dict) -> np.ndarray:
    """The MLP's outputs back in the targets' own units (float64, shape (N,))."""
    t = config["target_scaler"]
    return np.asarray(outputs).reshape(-1).astype(np.float64) * t["scale"] + t["mean"]


def targets(y, config: dict) -> np.ndarray:
    """What a run's model learns for the raw targets y: the class indices as they are, or the standardised
    regression targets."""
    return y if config["task"] == "classification" else scale_targets(y, config)


def predictions(outputs, config: dict) -> np.ndarray:
    """A run's model outputs as predictions in the data's own units: class indices (``parts.predicted_classes``),
    or regression targets (``unscale_targets``)."""
    return predicted_classes(outputs) if config["task"] == "classification" else unscale_targets(outputs, config)
