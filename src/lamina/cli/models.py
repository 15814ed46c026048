"""The models the ``lamina`` command trains, one entry per kind in ``MODEL_KINDS``: how a run's config becomes a
model, which config keys that needs, which datasets the kind trains on and their default settings, and how raw
input becomes the model's input (the statistics for that are fitted on the training data and kept in the config).

A new kind is one more ``ModelKind`` in the table; the commands look everything up here by ``config['model']``
(runs written before there were kinds have none: they are MLPs). The sequence kinds (rnn, lstm, gru, transformer:
character language models) train on text instead of (X, y) rows; ``lamina.cli.sequences`` runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lamina import datasets, nn
from lamina.sklearn.mlp import ACTIVATIONS, build_mlp, fit_scaler, scale_rows  # the MLP lives with the estimators


class ModelConfigError(ValueError):
    """A config that describes no model of its kind (the commands report it as a CLIError)."""


@dataclass(frozen=True)
class ModelKind:
    """One kind of model the command trains."""

    build: Callable[[dict], nn.Module]  # the model a run's config describes (untrained)
    config_keys: tuple[str, ...]  # what build and inputs read from config.json
    datasets: tuple[str, ...] | None  # the bundled datasets it trains on (None: every one, and CSV files)
    defaults: dict  # per dataset: settings that reach a good result on their own
    generic: dict  # settings for any other dataset
    fit_inputs: Callable[[np.ndarray], dict]  # raw training inputs -> config entries for ``inputs``
    inputs: Callable[[np.ndarray, dict], np.ndarray]  # raw inputs (rows or images) and config -> model input
    images: bool = False  # True: the data are (N, C, H, W) images (datasets.load_images), else feature rows
    sequence: bool = False  # True: character text (datasets.load_corpus); fit_inputs reads the TextCorpus


# ---------------------------------------------------------------------------------------------------------------
# mlp: a multilayer perceptron on standardised feature rows
# ---------------------------------------------------------------------------------------------------------------
MLP_DEFAULTS = {
    "xor": {"hidden": (8,), "activation": "tanh", "epochs": 100, "lr": 0.05, "batch_size": 4},
    "spirals": {"hidden": (64, 64), "epochs": 200, "lr": 0.01, "batch_size": 32},
    "house": {"hidden": (16,), "epochs": 100, "lr": 0.01, "batch_size": 16},
    "shapes": {"hidden": (128,), "epochs": 20, "lr": 1e-3, "batch_size": 64},
    "digits": {"hidden": (256,), "dropout": 0.2, "epochs": 30, "lr": 1e-3, "batch_size": 32},
    "breast_cancer": {"hidden": (64,), "dropout": 0.5, "optimizer": "adamw", "weight_decay": 0.1, "epochs": 20,
                      "lr": 1e-3, "batch_size": 32},
    "iris": {"hidden": (16,), "epochs": 100, "lr": 0.01, "batch_size": 16},
    "wine": {"hidden": (32,), "epochs": 60, "lr": 0.005, "batch_size": 16},
    "diabetes": {"hidden": (16,), "epochs": 100, "lr": 3e-3, "batch_size": 32, "weight_decay": 0.1},
    "mnist": {"hidden": (256, 128), "epochs": 10, "lr": 1e-3, "batch_size": 128},
    "fashion_mnist": {"hidden": (256, 128), "dropout": 0.2, "epochs": 15, "lr": 1e-3, "batch_size": 128},
}
GENERIC = {"hidden": (64, 32), "activation": "relu", "epochs": 50, "lr": 1e-3, "batch_size": 32, "weight_decay": 0.0,
           "optimizer": "adam", "dropout": 0.0}


# ---------------------------------------------------------------------------------------------------------------
# cnn: a LeNet-style convolutional network on (C, H, W) images
# ---------------------------------------------------------------------------------------------------------------
def cnn_layers(image_shape, channels, kernel_size: int, hidden, n_outputs: int, activation: str = "relu",
               batchnorm: bool = False, dropout: float = 0.0) -> list:
    """LeNet's pattern: per entry of ``channels`` a Conv2d (kernel_size, 'same' padding), BatchNorm2d?, the
    activation and a 2×2 max pooling; then Flatten and, per entry of ``hidden``, Linear, activation, Dropout?;
    then a Linear to the outputs. With channels (6, 16), kernel 5 and hidden (120, 84) it is LeNet-5's shape."""
    c, h, w = image_shape
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ModelConfigError(f"--kernel-size must be a positive odd number (its padding keeps the image size), "
                               f"got {kernel_size}")
    if h >> len(channels) < 1 or w >> len(channels) < 1:
        raise ModelConfigError(f"--channels: {len(channels)} convolution blocks halve a {h}×{w} image to nothing; "
                               f"use at most {int(np.log2(min(h, w)))}")
    act = getattr(nn, ACTIVATIONS[activation])
    layers = []
    for out in channels:
        layers.append(nn.Conv2d(c, out, kernel_size, padding=kernel_size // 2))
        if batchnorm:
            layers.append(nn.BatchNorm2d(out))
        layers += [act(), nn.MaxPool2d(2)]
        c, h, w = out, h // 2, w // 2
    layers.append(nn.Flatten())
    width = c * h * w
    for size in hidden:
        layers += [nn.Linear(width, size), act()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return layers


def build_cnn(config: dict) -> nn.Module:
    return nn.Sequential(*cnn_layers(config["image_shape"], config["channels"], config["kernel_size"],
                                     config["hidden"], config["n_outputs"], config["activation"],
                                     config.get("batchnorm", False), config.get("dropout", 0.0)))


def fit_normalize(X) -> dict:
    """The image shape and each channel's mean and standard deviation over the raw training images."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=(0, 2, 3))
    return {"image_shape": list(X.shape[1:]),
            "normalize": {"mean": X.mean(axis=(0, 2, 3)).tolist(), "std": np.where(std > 0, std, 1.0).tolist()}}


def normalize_images(X, config: dict) -> np.ndarray:
    """Raw images (or rows of their pixels) as (N, C, H, W) float32, each channel standardised."""
    shape, stats = config["image_shape"], config["normalize"]
    X = np.asarray(X, dtype=np.float32).reshape(-1, *shape)
    mean = np.asarray(stats["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(stats["std"], np.float32).reshape(-1, 1, 1)
    return ((X - mean) / std).astype(np.float32)


# Measured with these defaults (seed 0, 2 cores): shapes 94.2% test accuracy (10 epochs, 43 s), digits 97.8%
# (20 epochs, 29 s).
CNN_DEFAULTS = {
    "shapes": {"epochs": 10, "lr": 2e-3, "batch_size": 64},
    "digits": {"epochs": 20, "lr": 2e-3, "batch_size": 32},
    "mnist": {"epochs": 3, "lr": 1e-3, "batch_size": 64},
    "fashion_mnist": {"epochs": 5, "lr": 1e-3, "batch_size": 64},
}
CNN_GENERIC = {"channels": (6, 16), "kernel_size": 5, "hidden": (120, 84), "activation": "relu", "epochs": 10,
               "lr": 1e-3, "batch_size": 64, "weight_decay": 0.0, "optimizer": "adam", "dropout": 0.0}


# ---------------------------------------------------------------------------------------------------------------
# rnn, lstm, gru, transformer: character language models on text (lamina.cli.sequences trains them)
# ---------------------------------------------------------------------------------------------------------------
def build_language_model(config: dict) -> nn.Module:
    """Embedding → RNN/LSTM/GRU → Linear, or a decoder-only Transformer of d_model = hidden, over the run's
    characters."""
    from lamina.training.language_models import RNNLanguageModel, TransformerLanguageModel  # only for text runs

    if config["model"] == "transformer":
        return TransformerLanguageModel(config["vocab_size"], config["context_length"], d_model=config["hidden"],
                                        nhead=config["heads"], num_layers=config["layers"], dropout=config["dropout"])
    return RNNLanguageModel(config["vocab_size"], config["embedding_dim"], config["hidden"], config["layers"],
                            mode=config["model"], dropout=config["dropout"])


def fit_tokenizer(corpus) -> dict:
    """The character vocabulary of the corpus's training part (what generation encodes prompts with)."""
    return {"tokenizer": corpus.tokenizer.to_dict(), "vocab_size": corpus.vocab_size}


def encode_text(text: str, config: dict) -> np.ndarray:
    """Text as the run's character ids (unknown characters become the unknown id 0)."""
    return datasets.CharTokenizer.from_dict(config["tokenizer"]).encode_array(text)


# Measured with these defaults (seed 0, grammar corpus): see README, "Sequence data and character models".
RNN_LM_DEFAULTS = {"context": 64, "embedding_dim": 32, "hidden": 128, "layers": 1, "epochs": 10, "lr": 3e-3,
                   "batch_size": 32, "optimizer": "adam", "weight_decay": 0.0, "dropout": 0.0}
TRANSFORMER_LM_DEFAULTS = {"context": 64, "hidden": 64, "heads": 4, "layers": 2, "epochs": 10, "lr": 2e-3,
                           "batch_size": 32, "optimizer": "adam", "weight_decay": 0.0, "dropout": 0.0}
_LM_KEYS = ("vocab_size", "tokenizer", "context_length", "hidden", "layers")


def _language_model(generic: dict, keys: tuple) -> ModelKind:
    return ModelKind(build=build_language_model, config_keys=_LM_KEYS + keys, datasets=datasets.text.CORPORA,
                     defaults={}, generic=generic, fit_inputs=fit_tokenizer, inputs=encode_text, sequence=True)


# ---------------------------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------------------------
MODEL_KINDS = {
    "mlp": ModelKind(build=build_mlp, config_keys=("n_features", "n_outputs", "hidden", "activation", "scaler"),
                     datasets=None, defaults=MLP_DEFAULTS, generic=GENERIC, fit_inputs=fit_scaler, inputs=scale_rows),
    "cnn": ModelKind(build=build_cnn,
                     config_keys=("n_features", "n_outputs", "image_shape", "channels", "kernel_size", "hidden",
                                  "activation", "normalize"),
                     datasets=datasets.IMAGE_DATASETS, defaults=CNN_DEFAULTS, generic=CNN_GENERIC,
                     fit_inputs=fit_normalize, inputs=normalize_images, images=True),
    **{mode: _language_model(RNN_LM_DEFAULTS, ("embedding_dim",)) for mode in ("lstm", "gru", "rnn")},
    "transformer": _language_model(TRANSFORMER_LM_DEFAULTS, ("heads",)),
}


def model_kind(config: dict) -> ModelKind:
    """The kind of model a run's config describes (an MLP when it names none)."""
    name = config.get("model", "mlp")
    if name not in MODEL_KINDS:
        raise ModelConfigError(f"unknown model kind {name!r}; lamina knows {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[name]


def build_model(config: dict) -> nn.Module:
    """The (untrained) model a run's config describes."""
    return model_kind(config).build(config)
