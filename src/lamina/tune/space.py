"""The search space: what each trial draws and how a draw becomes the estimator's arguments.

A space maps names to ranges (``{'low': 1e-4, 'high': 0.1, 'log': True}``; integers when both ends are), to lists
of choices, or to fixed values. ``depth`` and ``width`` together become ``hidden_layer_sizes = (width,) * depth``;
every other name is an argument of ``LaminaClassifier`` / ``LaminaRegressor`` (``lr``, ``dropout``,
``batch_size``, ``optimizer``, ``activation``, ``weight_decay``, ``module__*``, ``optimizer__*``, ...).

On the command line a range is ``LOW:HIGH`` (``:log`` or ``:linear`` may follow; learning rate, weight decay and
width are searched on a log scale by default), a choice is ``a,b,c`` and anything else is a fixed value. A TOML
file holds the same in a ``[space]`` table::

    [space]
    lr = { low = 1e-4, high = 0.03, log = true }
    depth = { low = 1, high = 3 }
    width = { low = 32, high = 512, log = true }
    activation = ["relu", "tanh", "gelu"]
    batch_size = [16, 32, 64, 128]
    epochs = 30
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

LOG_BY_DEFAULT = {"lr", "weight_decay", "width"}


@dataclass(frozen=True)
class Dimension:
    """One searched (or fixed) setting: kind is 'float', 'int', 'choice' or 'fixed'."""

    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple = ()
    value: object = None

    def suggest(self, trial, name: str):
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(name, self.low, self.high, log=self.log)
        if self.kind == "choice":
            return trial.suggest_categorical(name, list(self.choices))
        return self.value

    def describe(self) -> str:
        if self.kind in ("float", "int"):
            return f"{self.low:g}:{self.high:g}" + (" (log)" if self.log else "")
        if self.kind == "choice":
            return ",".join(map(str, self.choices))
        return str(self.value)


def _dimension(name: str, spec) -> Dimension:
    """A Dimension from a TOML/dict entry: {low, high, log?}, a list of choices, or a fixed value."""
    if isinstance(spec, Dimension):
        return spec
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(spec):
            raise ValueError(f"search space: {name} must be {{low = ..., high = ..., log = true|false}}, got {spec}")
        low, high = spec["low"], spec["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
            raise ValueError(f"search space: {name}: low and high must be numbers, got {low!r} and {high!r}")
        log = bool(spec.get("log", name in LOG_BY_DEFAULT))
        if not low < high:
            raise ValueError(f"search space: {name}: low must be below high, got {low} and {high}")
        if log and low <= 0:
            raise ValueError(f"search space: {name}: a log-scale range must start above 0, got {low}")
        kind = "int" if isinstance(low, int) and isinstance(high, int) else "float"
        return Dimension(kind, low, high, log)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError(f"search space: {name} has an empty list of choices")
        choices = tuple(spec)
        return Dimension("choice", choices=choices) if len(choices) > 1 else Dimension("fixed", value=choices[0])
    return Dimension("fixed", value=spec)


def _scalar(text: str):
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_flag(name: str, text: str) -> Dimension:
    """A Dimension from a command-line value: LOW:HIGH[:log|:linear], a,b,c, or one value."""
    if ":" in text:
        parts = text.split(":")
        scale = parts.pop() if parts[-1] in ("log", "linear") else None
        if len(parts) != 2:
            raise ValueError(f"--{name.replace('_', '-')}: a range is LOW:HIGH (optionally :log or :linear), "
                             f"got {text!r}")
        low, high = (_scalar(p) for p in parts)
        spec = {"low": low, "high": high}
        if scale:
            spec["log"] = scale == "log"
        try:
            return _dimension(name, spec)
        except ValueError as err:
            raise ValueError(str(err).replace(f"search space: {name}:", f"--{name.replace('_', '-')}:")) from None
    if "," in text:
        return _dimension(name, [_scalar(t) for t in text.split(",") if t.strip()])
    return Dimension("fixed", value=_scalar(text))


class SearchSpace:
    """Named dimensions; ``sample(trial)`` draws the estimator's arguments for one trial."""

    def __init__(self, dims: dict | None = None):
        self.dims = {name: _dimension(name, spec) for name, spec in (dims or {}).items()}

    def updated(self, other: dict) -> SearchSpace:
        space = SearchSpace()
        space.dims = {**self.dims, **{k: _dimension(k, v) for k, v in other.items()}}
        return space

    def sample(self, trial) -> dict:
        """The estimator's arguments for this trial (Optuna records the raw draws as ``trial.params``)."""
        return self.to_params({name: dim.suggest(trial, name) for name, dim in self.dims.items()})

    def to_params(self, raw: dict) -> dict:
        """Raw draws (``trial.params`` plus the fixed values) as estimator arguments: depth and width become
        ``hidden_layer_sizes``."""
        params = {name: dim.value for name, dim in self.dims.items() if dim.kind == "fixed"}
        params.update(raw)
        if "depth" in params or "width" in params:
            depth, width = int(params.pop("depth", 1)), int(params.pop("width", 100))
            params["hidden_layer_sizes"] = (width,) * depth
        return params

    def describe(self) -> dict:
        return {name: dim.describe() for name, dim in self.dims.items()}


def default_space(kind: str = "table") -> SearchSpace:
    """The default space. For tables (``'table'``) an MLP's learning rate (log), depth, width (log), activation,
    dropout, batch size, optimizer and weight decay (log); for images (``'image'``) a LeNet-style CNN's learning
    rate, convolution channels (as text: ``'6,16'``), kernel size, fully connected depth and width, dropout, batch
    size and optimizer."""
    if kind == "image":
        return SearchSpace({
            "lr": {"low": 3e-4, "high": 1e-2, "log": True},
            "channels": ["6,16", "16,32", "32,64"],
            "kernel_size": [3, 5],
            "depth": {"low": 1, "high": 2},
            "width": {"low": 32, "high": 256, "log": True},
            "dropout": {"low": 0.0, "high": 0.5},
            "batch_size": [32, 64],
            "optimizer": ["adam", "adamw"],
        })
    if kind != "table":
        raise ValueError(f"no default search space for {kind!r}: 'table' (an MLP) or 'image' (a CNN)")
    return SearchSpace({
        "lr": {"low": 1e-4, "high": 3e-2, "log": True},
        "depth": {"low": 1, "high": 3},
        "width": {"low": 32, "high": 512, "log": True},
        "activation": ["relu", "tanh", "gelu"],
        "dropout": {"low": 0.0, "high": 0.5},
        "batch_size": [16, 32, 64, 128],
        "optimizer": ["adam", "adamw", "momentum", "rmsprop"],
        "weight_decay": {"low": 1e-5, "high": 0.1, "log": True},
    })


def load_space(path) -> tuple[SearchSpace, dict]:
    """(space, settings) from a TOML file: its ``[space]`` table and, from a ``[tune]`` table, settings such as
    ``trials``, ``epochs`` or ``data``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the tomli backport, if installed
        try:
            import tomli as tomllib
        except ImportError:
            raise ImportError("reading a TOML search space needs Python 3.11 (tomllib) or `pip install tomli`") \
                from None
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"cannot read search space {path}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    unknown = set(data) - {"space", "tune"}
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; a search space file has [space] "
                         "and optionally [tune]")
    if not isinstance(data.get("space", {}), dict) or not isinstance(data.get("tune", {}), dict):
        raise ValueError(f"{path}: [space] and [tune] must be tables")
    try:
        return SearchSpace(data.get("space", {})), dict(data.get("tune", {}))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def finite(value) -> bool:
    return value is not None and math.isfinite(value)
