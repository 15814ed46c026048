"""Run folders of the ``lamina`` command: the datasets and their defaults, preprocessing, the model a config
describes, and reading and writing a run's files."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from lamina import datasets
from lamina.cli.models import ACTIVATIONS, MODEL_KINDS, ModelConfigError, build_model, model_kind
from lamina.serialization import load, load_metadata, write_atomic
from lamina.sklearn.mlp import predictions, targets
from lamina.sklearn.parts import TASKS, make_loss, make_optimizer, outputs, scores

DATASETS = ("xor", "spirals", "house", "shapes", "digits", "breast_cancer", "iris", "wine", "diabetes", "mnist",
            "fashion_mnist")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")
__all__ = ["ACTIVATIONS", "DATASETS", "MODEL_KINDS", "OPTIMIZERS", "CLIError", "build_model", "load_run"]


class CLIError(Exception):
    """A problem with the user's arguments or files: reported as one line, without a traceback."""


def _message(err: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none), for one-line reports."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


# ---------------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------------
def _load_data(data: dict, seed: int, images: bool = False) -> dict:
    """The raw (unscaled) train/test split, task, class names and feature names described by a run's data spec;
    with ``images``, X as (N, C, H, W) images (``datasets.load_images``) instead of feature rows."""
    test_size = data.get("test_size", 0.2)
    try:
        if images:
            options = {}
            if data["dataset"] in ("mnist", "fashion_mnist"):
                root = data.get("root")
                options = {"root": root or datasets.default_root(data["dataset"]), "download": root is None}
            split = datasets.load_images(data["dataset"], test_size=test_size, seed=seed, **options)
        elif "csv" in data:
            path = Path(data["csv"])
            if not path.is_file():
                raise CLIError(f"cannot read CSV file {path}: no such file; check the --csv path")
            split = datasets.load_csv(path, data["target"], task=data.get("task"), test_size=test_size, seed=seed,
                                      scale=False)
        elif data["dataset"] in ("mnist", "fashion_mnist"):
            # files given with --root are used as they are; without it they are fetched into lamina's cache once
            root = data.get("root")
            split = datasets.load(data["dataset"], scale=False, root=root or datasets.default_root(data["dataset"]),
                                  download=root is None)
        else:
            split = datasets.load(data["dataset"], test_size=test_size, seed=seed, scale=False)
    except (FileNotFoundError, ValueError, OSError) as err:
        raise CLIError(_message(err)) from None
    arrays = {k: getattr(split, k).array for k in ("X_train", "X_test", "y_train", "y_test")}
    if data.get("task") and data["task"] != split.task:
        raise CLIError(f"{data.get('dataset', data.get('csv'))} is a {split.task} dataset, not {data['task']}; "
                       f"drop --task or pass --task {split.task}")
    return {**arrays, "task": split.task, "feature_names": list(split.feature_names),
            "class_names": list(split.target_names) if split.task == "classification" else None,
            "n_classes": split.n_classes}


def _prepare(data: dict, config: dict):
    """The model's inputs (scaled feature rows, or normalised images) and training targets (class indices, or
    standardized regression targets)."""
    inputs = model_kind(config).inputs
    return (inputs(data["X_train"], config), inputs(data["X_test"], config), targets(data["y_train"], config),
            targets(data["y_test"], config))


# ---------------------------------------------------------------------------------------------------------------
# model: the optimizer, loss and scores are the estimators' (lamina.sklearn.parts)
# ---------------------------------------------------------------------------------------------------------------
def _optimizer(config: dict, params):
    return make_optimizer(config["optimizer"], params, config["lr"], config.get("weight_decay", 0.0))


def _loss(config: dict):
    return make_loss(TASKS[config["task"]]["loss"])


def _test_metrics(model, config, X_test, y_test_raw) -> dict:
    """Test metrics in the data's own units: accuracy (+ macro F1) or R², MSE and MAE."""
    return scores(config["task"], y_test_raw, predictions(outputs(model, X_test), config))


# ---------------------------------------------------------------------------------------------------------------
# run folders
# ---------------------------------------------------------------------------------------------------------------
def _write_json(path: Path, obj) -> None:
    write_atomic(path, (json.dumps(obj, indent=2) + "\n").encode())


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise CLIError(f"{path.parent} is not a lamina run folder: {path.name} is missing; give a folder that "
                       "`lamina train` wrote")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CLIError(f"cannot read {what} {path}: {_message(err)}") from None


def _run_dir(run) -> Path:
    path = Path(run)
    if not path.exists():
        raise CLIError(f"run folder {path} does not exist")
    if not path.is_dir():
        raise CLIError(f"{path} is not a run folder (a directory written by `lamina train`)")
    return path


def load_run(run):
    """(config, model with its trained weights) from a run folder."""
    path = _run_dir(run)
    config = _read_json(path / "config.json", "config")
    try:
        kind = model_kind(config)
        missing = [k for k in ("task", *kind.config_keys) if k not in config]
        if missing:
            raise CLIError(f"{path / 'config.json'} is not a lamina run config: missing {', '.join(missing)}")
        model = kind.build(config)
    except (ModelConfigError, KeyError, TypeError, ValueError) as err:
        raise CLIError(f"{path / 'config.json'}: {_message(err)}") from None
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise CLIError(f"{path} has no trained weights: model.safetensors is missing; train the run again with "
                       f"--out {path} --overwrite")
    try:
        load(weights, model)
        run_id = load_metadata(weights).get("run_id")
    except Exception as err:  # a corrupt or foreign file can fail in many ways; all mean the same to the user
        message = _message(err)
        raise CLIError(message if str(weights) in message else f"cannot load weights {weights}: {message}") from None
    if run_id is not None and config.get("run_id") not in (None, run_id):
        stage = staging_path(path)
        rest = f"; the rest of the new run is in {stage}" if stage.is_dir() else ""
        raise CLIError(f"{weights} belongs to another run than {path / 'config.json'} (a run folder left half "
                       f"replaced{rest}), in {path}; train the run again with --out {path} --overwrite")
    return config, model


def _new_run_dir(out, name: str, overwrite: bool = False) -> Path:
    """The folder of a new run: --out DIR (refused when it holds files, unless --overwrite) or a fresh
    runs/<name>-<time>."""
    if out:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise CLIError(f"--out {out} is a file, not a folder; give a new folder name")
        if path.is_dir() and not overwrite:
            held = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
            if held:
                shown = ", ".join(held[:4]) + (f" and {len(held) - 4} more" if len(held) > 4 else "")
                raise CLIError(f"--out {out} is not empty (it holds {shown}); give a new folder, or add "
                               "--overwrite to replace the run in it")
        return path
    base = Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


# the files lamina writes into a run folder: a run replaced with --overwrite loses the old ones it does not rewrite
RUN_FILES = ("config.json", "model.safetensors", "best.safetensors", "checkpoint.ckpt", "history.json",
             "metrics.json", "health.json", "loss.png", "gradient_norms.png", "health.png", "health_activations.png",
             "health_gradients.png", "confusion_matrix.png", "decision_boundary.png", "filters.png",
             "feature_maps.png", "graph.html", "report.html")


class RunFolder:
    """A run written so that a failure leaves either the old complete run or the new complete one.

    Training writes every file into a hidden sibling folder (``.<name>.lamina-partial``, the same path each time,
    so checkpoints name the same files when resumed); ``publish`` then moves them into the run folder one by one
    with ``os.replace`` (config.json last) and removes the old run's files that the new run does not have.
    ``discard`` removes the staging folder and leaves the run folder as it was (or absent). A resumed run starts
    from copies of its config, checkpoint and best weights."""

    def __init__(self, path: Path, resume: bool = False):
        self.path = Path(path)
        self.stage = staging_path(self.path)
        self.publishing = False
        if self.stage.exists():  # left by a run that was killed: it is ours to replace
            shutil.rmtree(self.stage)
        self.stage.mkdir(parents=True)
        if resume:
            for name in ("config.json", "checkpoint.ckpt", "best.safetensors"):
                if (self.path / name).is_file():
                    shutil.copy2(self.path / name, self.stage / name)

    def write_json(self, name: str, obj) -> None:
        _write_json(self.stage / name, obj)

    def publish(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        names = sorted((p.name for p in self.stage.iterdir() if p.is_file() and not p.name.startswith(".")),
                       key=lambda n: n == "config.json")
        self.publishing = True  # from here a failure keeps the staging folder: it holds the rest of the new run
        for name in names:
            os.replace(self.stage / name, self.path / name)
        for name in RUN_FILES:
            if name not in names:
                (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.stage, ignore_errors=True)

    def discard(self) -> None:
        if not self.publishing:
            shutil.rmtree(self.stage, ignore_errors=True)


def staging_path(run: Path) -> Path:
    """Where a run is written before it is moved into ``run``: a hidden sibling folder."""
    absolute = Path(run).resolve()
    return absolute.parent / f".{absolute.name}.lamina-partial"


def data_fingerprint(data: dict) -> str:
    """SHA-256 of the split a run trains and tests on (the arrays' dtypes, shapes and bytes): it changes when the
    data file, or the way it is split, changes."""
    h = hashlib.sha256()
    for key in ("X_train", "y_train", "X_test", "y_test"):
        a = np.ascontiguousarray(data[key])
        h.update(f"{key}{a.dtype.str}{a.shape}".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------------------------
def _parse_sizes(text: str, flag: str, example: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip()) if text.strip() else ()
    except ValueError:
        raise CLIError(f"{flag} must be comma-separated sizes like {example}, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise CLIError(f"{flag} sizes must be positive, got {text!r}")
    return sizes


def _data_spec(args) -> tuple[str, dict]:
    """The dataset's name and the run's data spec: what reloads the same split later."""
    if args.csv and args.data:
        raise CLIError("give either --data or --csv, not both")
    if args.csv and not args.target:
        raise CLIError("--csv needs --target COLUMN (the column to predict)")
    if args.target and not args.csv:
        raise CLIError("--target is for --csv files")
    name = "csv" if args.csv else (args.data or "digits")
    if name not in DATASETS and name != "csv":
        raise CLIError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or use --csv")
    data = {"csv": str(Path(args.csv).resolve()), "target": args.target} if args.csv else {"dataset": name}
    if args.task:
        data["task"] = args.task
    if name in ("mnist", "fashion_mnist") and args.root:
        data["root"] = str(Path(args.root).resolve())
    data["test_size"] = 0.2 if args.test_size is None else args.test_size
    if not 0 < data["test_size"] < 1:  # NaN fails this too
        raise CLIError(f"--test-size must be between 0 and 1, got {data['test_size']}")
    return name, data


def _new_config(args) -> dict:
    model = args.model or "mlp"
    kind = MODEL_KINDS[model]
    name, data = _data_spec(args)
    if kind.datasets is not None and name not in kind.datasets:
        given = "--csv (a table)" if name == "csv" else f"--data {name}"
        what = "images" if kind.images else "its own datasets"
        raise CLIError(f"--model {model} trains on {what}: use --data {' | '.join(kind.datasets)}, not {given}")
    if not kind.images:
        for dest in ("channels", "kernel_size", "augment"):
            if getattr(args, dest) not in (None, False):
                raise CLIError(f"{flag(dest)} is for image models (--model cnn), not --model {model}")
    d = {**kind.generic, **kind.defaults.get(name, {})}
    pick = {k: getattr(args, k) for k in ("activation", "epochs", "lr", "batch_size", "weight_decay", "optimizer",
                                          "dropout", "kernel_size") if getattr(args, k) is not None}
    d.update(pick)
    if args.hidden is not None:
        d["hidden"] = _parse_sizes(args.hidden, "--hidden", "128,64")
    if args.channels is not None:
        d["channels"] = _parse_sizes(args.channels, "--channels", "6,16")
        if not d["channels"]:
            raise CLIError("--channels needs at least one convolution block, e.g. 6,16")
    if kind.images and (d["kernel_size"] < 1 or d["kernel_size"] % 2 == 0):
        raise CLIError(f"--kernel-size must be a positive odd number (its padding keeps the image size), "
                       f"got {d['kernel_size']}")
    check_settings(d, args)
    config = {"model": model, "dataset": Path(args.csv).stem if args.csv else name, "data": data,
              "seed": 0 if args.seed is None else args.seed}
    if kind.images:
        config.update(channels=list(d["channels"]), kernel_size=d["kernel_size"], augment=bool(args.augment))
    config.update(hidden=list(d["hidden"]), activation=d["activation"], dropout=d["dropout"],
                  batchnorm=bool(args.batchnorm), optimizer=d["optimizer"], lr=d["lr"],
                  weight_decay=d["weight_decay"], epochs=d["epochs"], batch_size=d["batch_size"])
    if args.clip_grad_norm is not None:
        config["clip_grad_norm"] = args.clip_grad_norm
    return config


def flag(dest: str) -> str:
    """The command-line flag of an argument's dest: 'clip_grad_norm' -> '--clip-grad-norm'."""
    return "--" + dest.replace("_", "-")


def check_settings(d: dict, args) -> None:
    """Every numeric setting in range before anything is trained: a CLIError naming the flag otherwise."""
    def bad(flag, value, rule):
        raise CLIError(f"{flag} must be {rule}, got {value:g}" if isinstance(value, float) else
                       f"{flag} must be {rule}, got {value}")

    for flag, key in (("--epochs", "epochs"), ("--batch-size", "batch_size")):
        if key in d and d[key] < 1:
            bad(flag, d[key], "a positive whole number")
    if "lr" in d and not (math.isfinite(d["lr"]) and d["lr"] > 0):
        bad("--lr", d["lr"], "a positive finite number such as 0.001")
    if "weight_decay" in d and not (math.isfinite(d["weight_decay"]) and d["weight_decay"] >= 0):
        bad("--weight-decay", d["weight_decay"], "zero or a positive finite number")
    if "dropout" in d and not 0 <= d["dropout"] < 1:
        bad("--dropout", d["dropout"], "a probability in [0, 1)")
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed < 2**32:
        bad("--seed", seed, "a whole number from 0 to 2**32 - 1")
    clip = getattr(args, "clip_grad_norm", None)
    if clip is not None and not (math.isfinite(clip) and clip > 0):
        bad("--clip-grad-norm", clip, "a positive finite number such as 1.0")


# what a resumed run keeps from its config (--epochs, --lr, --clip-grad-norm and the output flags may change)
_RUN_SETTINGS = ("model", "data", "csv", "target", "task", "hidden", "channels", "kernel_size", "augment",
                 "activation", "dropout", "batchnorm", "optimizer", "weight_decay", "batch_size", "test_size",
                 "seed", "out", "root", "overwrite")
