"""The ``lamina`` command: train a multilayer perceptron on a bundled dataset or a CSV file, then evaluate,
predict, plot and inspect the saved run.

    lamina train                          # an MLP on the bundled handwritten digits
    lamina train --data xor --hidden 8 --activation tanh
    lamina train --csv houses.csv --target price --epochs 100
    lamina train --resume runs/digits     # continue an interrupted run
    lamina evaluate runs/digits
    lamina predict runs/digits --input samples.csv --output predictions.csv
    lamina plot runs/digits
    lamina info runs/digits
    lamina graph runs/digits              # graph.html: the computation graph, with values and gradients

A run folder holds model.safetensors (the weights), config.json (what rebuilds the model and preprocesses raw
input: dataset, task, sizes, activation, class names, feature scaler), history.json, metrics.json (test
metrics), loss.png and checkpoint.ckpt (for --resume).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import lamina
from lamina import datasets, metrics, nn, optim
from lamina.serialization import load, save, write_atomic
from lamina.training import History, fit, predict
from lamina.training.callbacks import GradientMonitor

DATASETS = ("xor", "spirals", "house", "digits", "breast_cancer", "iris", "wine", "diabetes", "mnist",
            "fashion_mnist")
ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU", "gelu": "GELU"}
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")

# Per-dataset defaults chosen so that `lamina train --data NAME` reaches a good result in well under a minute.
DEFAULTS = {
    "xor": {"hidden": (8,), "activation": "tanh", "epochs": 100, "lr": 0.05, "batch_size": 4},
    "spirals": {"hidden": (64, 64), "epochs": 200, "lr": 0.01, "batch_size": 32},
    "house": {"hidden": (16,), "epochs": 100, "lr": 0.01, "batch_size": 16},
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


class CLIError(Exception):
    """A problem with the user's arguments or files: reported as one line, without a traceback."""


# ---------------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------------
def _load_data(data: dict, seed: int) -> dict:
    """The raw (unscaled) train/test split, task, class names and feature names described by a run's data spec."""
    test_size = data.get("test_size", 0.2)
    try:
        if "csv" in data:
            path = Path(data["csv"])
            if not path.is_file():
                raise CLIError(f"cannot read CSV file {path}: no such file")
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
        raise CLIError(f"{data.get('dataset', data.get('csv'))} is a {split.task} dataset, not {data['task']}")
    return {**arrays, "task": split.task, "feature_names": list(split.feature_names),
            "class_names": list(split.target_names) if split.task == "classification" else None,
            "n_classes": split.n_classes}


def _scale(X, scaler: dict) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return ((X - np.asarray(scaler["mean"], np.float32)) / np.asarray(scaler["scale"], np.float32)).astype(np.float32)


def _fit_scaler(X) -> dict:
    from sklearn.preprocessing import StandardScaler  # scikit-learn takes ~1 s to import: only when a run is prepared

    s = StandardScaler().fit(np.asarray(X, dtype=np.float64))
    return {"mean": s.mean_.tolist(), "scale": s.scale_.tolist()}


def _prepare(data: dict, config: dict):
    """Scaled float32 features and training targets (class indices, or standardized regression targets)."""
    Xtr, Xte = _scale(data["X_train"], config["scaler"]), _scale(data["X_test"], config["scaler"])
    if config["task"] == "classification":
        return Xtr, Xte, data["y_train"], data["y_test"]
    t = config["target_scaler"]
    ytr = ((data["y_train"].astype(np.float64) - t["mean"]) / t["scale"]).astype(np.float32).reshape(-1, 1)
    yte = ((data["y_test"].astype(np.float64) - t["mean"]) / t["scale"]).astype(np.float32).reshape(-1, 1)
    return Xtr, Xte, ytr, yte


# ---------------------------------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------------------------------
def build_model(config: dict):
    """The MLP a run's config describes: [Linear, BatchNorm1d?, activation, Dropout?] per hidden layer, Linear."""
    layers, width = [], config["n_features"]
    for h in config["hidden"]:
        layers.append(nn.Linear(width, h))
        if config.get("batchnorm"):
            layers.append(nn.BatchNorm1d(h))
        layers.append(getattr(nn, ACTIVATIONS[config["activation"]])())
        if config.get("dropout"):
            layers.append(nn.Dropout(config["dropout"]))
        width = h
    layers.append(nn.Linear(width, config["n_outputs"]))
    return nn.Sequential(*layers)


def _optimizer(config: dict, params):
    name, lr, wd = config["optimizer"], config["lr"], config.get("weight_decay", 0.0)
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}[name]
    return cls(params, lr=lr, weight_decay=wd)


def _loss(config: dict):
    return nn.CrossEntropyLoss() if config["task"] == "classification" else nn.MSELoss()


def _outputs_to_predictions(out: np.ndarray, config: dict) -> np.ndarray:
    if config["task"] == "classification":
        return out.argmax(axis=1)
    t = config["target_scaler"]
    return out.reshape(-1).astype(np.float64) * t["scale"] + t["mean"]


def _test_metrics(model, config, X_test, y_test_raw) -> dict:
    """Test metrics in the data's own units: accuracy (+ macro F1) or R², MSE and MAE."""
    pred = _outputs_to_predictions(predict(model, X_test).array, config)
    if config["task"] == "classification":
        y = np.asarray(y_test_raw, dtype=np.int64).reshape(-1)
        return {"accuracy": metrics.accuracy(y, pred), "f1_macro": metrics.f1(y, pred, average="macro")}
    y = np.asarray(y_test_raw, dtype=np.float64).reshape(-1)
    return {"r2": metrics.r2(y, pred), "mse": metrics.mse(y, pred), "mae": metrics.mae(y, pred)}


# ---------------------------------------------------------------------------------------------------------------
# run folders
# ---------------------------------------------------------------------------------------------------------------
def _write_json(path: Path, obj) -> None:
    write_atomic(path, (json.dumps(obj, indent=2) + "\n").encode())


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise CLIError(f"{path.parent} is not a lamina run folder: {path.name} is missing")
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
    missing = [k for k in ("task", "n_features", "n_outputs", "hidden", "activation", "scaler") if k not in config]
    if missing:
        raise CLIError(f"{path / 'config.json'} is not a lamina run config: missing {', '.join(missing)}")
    model = build_model(config)
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise CLIError(f"{path} has no trained weights: model.safetensors is missing")
    try:
        load(weights, model)
    except Exception as err:  # a corrupt or foreign file can fail in many ways; all mean the same to the user
        message = _message(err)
        raise CLIError(message if str(weights) in message else f"cannot load weights {weights}: {message}") from None
    return config, model


def _new_run_dir(out, name: str) -> Path:
    if out:
        return Path(out)
    base = Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


# ---------------------------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------------------------
def _parse_hidden(text: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip()) if text.strip() else ()
    except ValueError:
        raise CLIError(f"--hidden must be comma-separated layer sizes like 128,64, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise CLIError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _new_config(args) -> dict:
    if args.csv and args.data:
        raise CLIError("give either --data or --csv, not both")
    if args.csv and not args.target:
        raise CLIError("--csv needs --target COLUMN (the column to predict)")
    if args.target and not args.csv:
        raise CLIError("--target is for --csv files")
    name = "csv" if args.csv else (args.data or "digits")
    if name not in DATASETS and name != "csv":
        raise CLIError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or use --csv")
    d = {**GENERIC, **DEFAULTS.get(name, {})}
    pick = {k: getattr(args, k) for k in ("activation", "epochs", "lr", "batch_size", "weight_decay", "optimizer",
                                          "dropout") if getattr(args, k) is not None}
    d.update(pick)
    if args.hidden is not None:
        d["hidden"] = _parse_hidden(args.hidden)
    if d["epochs"] < 1 or d["batch_size"] < 1 or d["lr"] <= 0:
        raise CLIError("--epochs, --batch-size and --lr must be positive")
    if not 0 <= d["dropout"] < 1:
        raise CLIError(f"--dropout must be in [0, 1), got {d['dropout']}")
    data = {"csv": str(Path(args.csv).resolve()), "target": args.target} if args.csv else {"dataset": name}
    if args.task:
        data["task"] = args.task
    if name in ("mnist", "fashion_mnist") and args.root:
        data["root"] = str(Path(args.root).resolve())
    data["test_size"] = 0.2 if args.test_size is None else args.test_size
    if not 0 < data["test_size"] < 1:
        raise CLIError(f"--test-size must be between 0 and 1, got {data['test_size']}")
    return {"dataset": Path(args.csv).stem if args.csv else name, "data": data,
            "seed": 0 if args.seed is None else args.seed,
            "hidden": list(d["hidden"]), "activation": d["activation"], "dropout": d["dropout"],
            "batchnorm": bool(args.batchnorm), "optimizer": d["optimizer"], "lr": d["lr"],
            "weight_decay": d["weight_decay"], "epochs": d["epochs"], "batch_size": d["batch_size"]}


_RUN_SETTINGS = ("data", "csv", "target", "task", "hidden", "activation", "dropout", "batchnorm", "optimizer", "lr",
                 "weight_decay", "batch_size", "test_size", "seed", "out", "root")


def cmd_train(args) -> int:
    if args.resume:
        fixed = [f"--{k.replace('_', '-')}" for k in _RUN_SETTINGS if getattr(args, k) not in (None, False)]
        if fixed:
            raise CLIError(f"--resume continues a run with its own settings; {', '.join(fixed)} cannot change "
                           "(only --epochs and --no-progress can)")
        run = _run_dir(args.resume)
        config = _read_json(run / "config.json", "config")
        if not (run / "checkpoint.ckpt").is_file():
            raise CLIError(f"cannot resume {run}: checkpoint.ckpt is missing")
        if args.epochs is not None:
            config["epochs"] = args.epochs
            _write_json(run / "config.json", config)
    else:
        config = _new_config(args)
        run = _new_run_dir(args.out, config["dataset"])
    data = _load_data(config["data"], config["seed"])
    task = data["task"]
    if not args.resume:
        config["task"] = task
        config["n_features"] = int(data["X_train"].shape[1])
        config["scaler"] = _fit_scaler(data["X_train"])
        config["feature_names"] = data["feature_names"]
        config["class_names"] = data["class_names"]
        if task == "classification":
            config["n_outputs"] = int(data["n_classes"])
        else:
            y = np.asarray(data["y_train"], dtype=np.float64)
            config["n_outputs"] = 1
            config["target_scaler"] = {"mean": float(y.mean()), "scale": float(y.std() or 1.0)}
        run.mkdir(parents=True, exist_ok=True)
        _write_json(run / "config.json", config)

    X_train, X_test, y_train, y_test = _prepare(data, config)
    lamina.manual_seed(config["seed"])
    model = build_model(config)
    optimizer = _optimizer(config, model.parameters())
    loss = _loss(config)
    metric = "accuracy" if task == "classification" else "r2"
    progress = not args.no_progress
    if progress:
        print(f"training {config['dataset']} ({task}, {len(X_train)} train / {len(X_test)} test samples) "
              f"-> {run}", file=sys.stderr)
    history = fit(model, (X_train, y_train), loss=loss, optimizer=optimizer, epochs=config["epochs"],
                  val=(X_test, y_test), metrics=[metric], batch_size=config["batch_size"], progress=progress,
                  checkpoint=run / "checkpoint.ckpt", resume=run / "checkpoint.ckpt" if args.resume else None,
                  callbacks=[GradientMonitor(every=10)])
    save(model.state_dict(), run / "model.safetensors")
    _write_json(run / "history.json", history.to_dict())
    results = _test_metrics(model, config, X_test, data["y_test"])
    _write_json(run / "metrics.json", results)
    if history.interrupted:
        print(f"interrupted: continue with `lamina train --resume {run}`", file=sys.stderr)
    elif args.resume and len(history) > config["epochs"]:
        print(f"note: the checkpoint had already completed {len(history)} epochs; nothing to train "
              f"(pass --epochs above {len(history)} to train more)", file=sys.stderr)
    _loss_plot(history, run)
    for key, value in results.items():
        print(f"test {key}: {value:.4f}")
    print(f"run saved to {run}")
    return 130 if history.interrupted else 0


def _loss_plot(history, run: Path) -> None:
    try:
        from lamina.plot import plot_history  # matplotlib (optional) loads only for plots

        plot_history(history, run / "loss.png", title=str(run.name), val_label="test")
    except ImportError as err:
        print(f"note: loss curve not plotted ({err})", file=sys.stderr)


def _reload_test_data(config):
    data = _load_data(config["data"], config["seed"])
    X_test = np.asarray(data["X_test"])
    X_test = X_test.reshape(len(X_test), -1)
    if X_test.shape[1] != config["n_features"]:
        raise CLIError(f"the data now has {X_test.shape[1]} features but the model expects {config['n_features']}")
    return _scale(X_test, config["scaler"]), data["y_test"]


def cmd_evaluate(args) -> int:
    config, model = load_run(args.run)
    X_test, y_test = _reload_test_data(config)
    for key, value in _test_metrics(model, config, X_test, y_test).items():
        print(f"test {key}: {value:.4f}")
    return 0


def _read_input(path: Path, config: dict) -> np.ndarray:
    """Raw feature rows from a .npy or .csv file (a header row is allowed; a target column in it is dropped)."""
    if not path.is_file():
        raise CLIError(f"input file {path} does not exist")
    if path.suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise CLIError(f"cannot read {path}: {_message(err)}") from None
    elif path.suffix == ".csv":
        X = _read_csv_features(path, config)
    else:
        raise CLIError(f"--input must be a .csv or .npy file, got {path.name}")
    if X.ndim == 1:
        X = X.reshape(1, -1)
    X = X.reshape(len(X), -1)
    if X.dtype.kind not in "biuf":
        raise CLIError(f"{path} must hold numbers, got values of type {X.dtype}")
    if X.shape[1] != config["n_features"]:
        raise CLIError(f"{path} has {X.shape[1]} input columns but the model expects {config['n_features']}")
    return X


def _read_csv_features(path: Path, config: dict) -> np.ndarray:
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError) as err:
        raise CLIError(f"cannot read {path}: {_message(err)}") from None
    if not rows:
        raise CLIError(f"{path} is empty")
    header = None
    try:
        [float(v) for v in rows[0]]
    except ValueError:
        header, rows = [h.strip() for h in rows[0]], rows[1:]
    if header is not None:
        names = config.get("feature_names")
        target = config["data"].get("target")
        if names and all(n in header for n in names):
            cols = [header.index(n) for n in names]
        else:
            cols = [i for i, h in enumerate(header) if h != target]
        rows = [[r[i] for i in cols] if len(r) == len(header) else r for r in rows]
    try:
        return np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    except ValueError as err:
        raise CLIError(f"{path}: every value must be a number ({_message(err)})") from None


def cmd_predict(args) -> int:
    config, model = load_run(args.run)
    X = _read_input(Path(args.input), config)
    out = predict(model, _scale(X, config["scaler"])).array
    pred = _outputs_to_predictions(out, config)
    if config["task"] == "classification":
        names = config.get("class_names") or [str(i) for i in range(config["n_outputs"])]
        labels = [names[i] for i in pred]
    else:
        labels = [f"{v:.6g}" for v in pred]
    if args.output:
        out_path = Path(args.output)
        if out_path.suffix == ".npy":
            np.save(out_path, np.asarray(pred))
        else:
            with open(out_path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["prediction"])
                w.writerows([label] for label in labels)
        print(f"wrote {len(labels)} predictions to {out_path}")
    else:
        print("\n".join(labels))
    return 0


def cmd_plot(args) -> int:
    from lamina import plot  # matplotlib (optional) loads only for plots

    config, model = load_run(args.run)
    run = Path(args.run)
    history = History.from_dict(_read_json(run / "history.json", "history"))
    written = [plot.plot_history(history, run / "loss.png", title=run.name, val_label="test")]
    if history.gradient_norms:
        written.append(plot.plot_gradient_norms(history, run / "gradient_norms.png"))
    if config["task"] == "classification":
        X_test, y_test = _reload_test_data(config)
        pred = predict(model, X_test).array.argmax(1)
        cm = metrics.confusion_matrix(np.asarray(y_test, dtype=np.int64), pred, num_classes=config["n_outputs"])
        written.append(plot.plot_confusion_matrix(cm, run / "confusion_matrix.png", config.get("class_names")))
        if config["n_features"] == 2:
            written.append(plot.plot_decision_boundary(model, X_test, y_test, run / "decision_boundary.png"))
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_graph(args) -> int:
    from lamina import viz  # the drawing code loads only for this command

    config, model = load_run(args.run)
    X, y = _reload_test_data(config)
    X, y = lamina.from_numpy(X[: args.batch_size]), np.asarray(y[: args.batch_size])
    if config["task"] == "regression":
        t = config["target_scaler"]
        y = ((y.astype(np.float64) - t["mean"]) / t["scale"]).astype(np.float32).reshape(-1, 1)
    y = lamina.from_numpy(y.astype(np.int64) if config["task"] == "classification" else y)
    model.eval()  # dropout off: the graph shows what the trained model computes
    graphs = [viz.graph(model, X, target=y, loss_fn=_loss(config), level=level) for level in ("module", "op")]
    path = Path(args.run) / "graph.html"
    viz.page(graphs, title=f"{Path(args.run).name}: the computation graph of {len(X)} test samples", path=path)
    print(f"wrote {path}")
    return 0


def cmd_info(args) -> int:
    config, model = load_run(args.run)
    run = Path(args.run)
    n_params = sum(p.numel() for p in model.parameters())
    data = config["data"]
    source = f"{data['csv']} (target {data['target']})" if "csv" in data else config["dataset"]
    print(f"run:        {run}")
    print(f"data:       {source}, {config['task']}, {config['n_features']} features, {config['n_outputs']} outputs")
    print(f"training:   {config['optimizer']} lr={config['lr']:g} weight_decay={config['weight_decay']:g} "
          f"epochs={config['epochs']} batch_size={config['batch_size']} seed={config['seed']}")
    print(f"parameters: {n_params:,}")
    print("model:")
    print("  " + repr(model).replace("\n", "\n  "))
    if (run / "history.json").is_file():
        h = _read_json(run / "history.json", "history")
        last = {k: v[-1] for k, v in h.get("history", {}).items() if v and k not in ("epoch_time",)}
        flag = " (interrupted)" if h.get("interrupted") else ""
        print(f"epochs run: {len(h.get('epoch', []))}{flag}")
        print("last epoch: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items()))
    if (run / "metrics.json").is_file():
        m = _read_json(run / "metrics.json", "metrics")
        print("test:       " + ", ".join(f"{k}={v:.4f}" for k, v in m.items()))
    return 0


# ---------------------------------------------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{message} (see `{self.prog} --help`)")


def _positive_float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lamina", description="Train and use neural networks with lamina.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train an MLP (default: the bundled handwritten digits)")
    t.add_argument("--data", help=f"bundled dataset: {', '.join(DATASETS)} (default digits)")
    t.add_argument("--csv", metavar="PATH", help="train on a CSV file instead (with --target)")
    t.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    t.add_argument("--task", choices=("classification", "regression"), help="inferred when possible")
    t.add_argument("--hidden", metavar="SIZES", help="hidden layer sizes, e.g. 128,64 ('' for none)")
    t.add_argument("--activation", choices=tuple(ACTIVATIONS))
    t.add_argument("--dropout", type=_positive_float, help="dropout probability after each hidden layer")
    t.add_argument("--batchnorm", action="store_true", help="BatchNorm1d after each hidden Linear layer")
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--lr", type=_positive_float, help="learning rate")
    t.add_argument("--weight-decay", type=_positive_float)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--test-size", type=_positive_float, help="held-out fraction (default 0.2)")
    t.add_argument("--seed", type=int, help="seeds the split, the initial weights, shuffling and dropout (default 0)")
    t.add_argument("--out", metavar="DIR", help="run folder (default runs/<dataset>-<time>)")
    t.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its checkpoint")
    t.add_argument("--root", metavar="DIR", help="folder with the MNIST / Fashion-MNIST IDX files")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="print a run's test metrics")
    e.add_argument("run", metavar="RUN")
    e.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict with a trained run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--input", required=True, metavar="FILE", help="raw features: .csv (header optional) or .npy")
    p.add_argument("--output", metavar="FILE", help="write predictions to this .csv or .npy instead of printing")
    p.set_defaults(func=cmd_predict)

    pl = sub.add_parser("plot", help="write a run's plots (PNG) into its folder")
    pl.add_argument("run", metavar="RUN")
    pl.set_defaults(func=cmd_plot)

    g = sub.add_parser("graph", help="write graph.html: the model's computation graph, by module and by operation")
    g.add_argument("run", metavar="RUN")
    g.add_argument("--batch-size", type=int, default=8, help="test samples run through the graph (default 8)")
    g.set_defaults(func=cmd_graph)

    i = sub.add_parser("info", help="architecture, parameter count and final metrics of a run")
    i.add_argument("run", metavar="RUN")
    i.set_defaults(func=cmd_info)
    return parser


def _message(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def main(argv=None) -> int:
    """Entry point of the ``lamina`` console script; returns the exit status."""
    try:
        args = make_parser().parse_args(argv)
        if args.command is None:
            make_parser().print_help()
            return 2
        return args.func(args)
    except CLIError as err:
        print(f"lamina: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lamina: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # no tracebacks for users; LAMINA_DEBUG=1 shows them
        if os.environ.get("LAMINA_DEBUG"):
            raise
        print(f"lamina: error: {type(err).__name__}: {_message(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
