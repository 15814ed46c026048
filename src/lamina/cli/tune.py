"""``lamina tune``: search an MLP's hyperparameters on a dataset with Optuna (``lamina.tune.search``).

The folder (``--out``, default ``runs/tune-<dataset>``) holds the study's database (``tune.db``, unless
``--storage`` says otherwise), one run folder per finished trial (``trials/<number>``), the best of them copied to
``best`` (a run folder that ``lamina evaluate / predict / info / plot`` accept), ``trials.csv``, ``best.json`` and
the plots ``search_history.png``, ``param_importances.png`` and ``best_curves.png``. Running the same command
again resumes the study; several processes can run it at once and share the trials.

The trials train on the training split less a validation part (``--validation-fraction``, stratified, the same
for every trial); they are compared and pruned on that validation part, and the test split is left for
``lamina evaluate``.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from lamina import nn
from lamina.cli.models import MODEL_KINDS, cnn_layers
from lamina.cli.runs import DATASETS, CLIError, _load_data, _message, _prepare, _test_metrics, _write_json
from lamina.serialization import save
from lamina.sklearn.mlp import fit_target_scaler
from lamina.tune.search import DEFAULT_SMOOTHING

SPACE_FLAGS = ("lr", "depth", "width", "activation", "dropout", "batch_size", "optimizer", "weight_decay", "channels",
               "kernel_size", "label_smoothing")


def image_cnn(n_outputs: int, image_shape, channels="6,16", kernel_size: int = 5, hidden=(120, 84),
              activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """`lamina train --model cnn`'s network on rows of pixels (what the estimators take): Unflatten to the image
    shape, then the LeNet-style layers. ``channels`` may be text ('6,16'), as a search draws it."""
    if isinstance(channels, str):
        channels = tuple(int(c) for c in channels.split(",") if c.strip())
    return nn.Sequential(nn.Unflatten(1, tuple(image_shape)),
                         *cnn_layers(tuple(image_shape), tuple(channels), int(kernel_size), tuple(hidden), n_outputs,
                                     activation, False, dropout))


def _cnn_arguments(image_shape):
    """The CNN's settings in a trial's draw become the module builder's arguments (module__*)."""
    def adapt(params: dict) -> dict:
        params = dict(params)
        module = {"image_shape": tuple(image_shape)}
        for key in ("channels", "kernel_size", "activation", "dropout"):
            if key in params:
                module[key] = params.pop(key)
        if "hidden_layer_sizes" in params:
            module["hidden"] = params.pop("hidden_layer_sizes")
        return {**params, "module": image_cnn, **{f"module__{k}": v for k, v in module.items()}}

    return adapt


def add_parser(sub, positive_float) -> None:
    """Register ``lamina tune`` on the subcommand parsers."""
    t = sub.add_parser("tune", help="search hyperparameters with Optuna (pip install lamina[tune])")
    t.add_argument("--model", choices=("mlp", "cnn"), help="mlp (default), or cnn: a LeNet-style network on images "
                                                          "(--data shapes, digits, mnist or fashion_mnist)")
    t.add_argument("--data", help=f"bundled dataset: {', '.join(DATASETS)} (default digits)")
    t.add_argument("--csv", metavar="PATH", help="search on a CSV file instead (with --target)")
    t.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    t.add_argument("--task", choices=("classification", "regression"), help="inferred when possible")
    t.add_argument("--trials", type=int, help="trials in the study, over every process working on it (default 20)")
    t.add_argument("--timeout", type=positive_float, metavar="SECONDS", help="start no trial after this long")
    t.add_argument("--epochs", type=int, help="epochs per trial (default: the dataset's `lamina train` default)")
    t.add_argument("--space", metavar="FILE.toml", help="search space ([space]) and settings ([tune]) from TOML")
    for name, example in (("lr", "1e-4:3e-2 (log scale)"), ("depth", "1:3"), ("width", "32:512 (log scale)"),
                          ("activation", "relu,tanh,gelu"), ("dropout", "0:0.5"), ("batch_size", "16,32,64,128"),
                          ("optimizer", "adam,adamw,momentum,rmsprop"),
                          ("weight_decay", "1e-5:0.1 (log scale); cnn: 0"),
                          ("label_smoothing", "not searched: 0.1; classification only"),
                          ("kernel_size", "3,5; --model cnn only")):
        t.add_argument(f"--{name.replace('_', '-')}", metavar="SPACE",
                       help=f"LOW:HIGH[:log|:linear], a,b,c or one value (default {example})")
    t.add_argument("--channels", metavar="SPACE", help="--model cnn: channels per convolution block, 'a,b'; choices "
                                                       "apart by spaces: '6,16 16,32' (default 6,16 16,32 32,64)")
    t.add_argument("--validation-fraction", type=positive_float, help="of the training split (default 0.2)")
    t.add_argument("--startup-trials", type=int, help="random trials before TPE's own (default 5)")
    t.add_argument("--pruner", choices=("hyperband", "median"),
                   help="hyperband (default: successive halving, Optuna's recommendation with TPE) or median")
    t.add_argument("--min-epochs", type=int,
                   help="hyperband: epochs every trial runs before it can be pruned (default 5)")
    t.add_argument("--pruner-startup", type=int, help="median: finished trials before any is pruned (default 5)")
    t.add_argument("--no-pruning", action="store_true", help="finish every trial")
    t.add_argument("--last-epoch", action="store_true", default=None,
                   help="a trial is worth its last epoch's validation value and keeps its last weights (default: "
                        "its best epoch's, whose weights its run folder keeps)")
    t.add_argument("--storage", metavar="URL", help="Optuna storage (default sqlite:///<out>/tune.db)")
    t.add_argument("--study", metavar="NAME", help="study name in the storage (default lamina-tune)")
    t.add_argument("--test-size", type=positive_float, help="held-out test fraction (default 0.2)")
    t.add_argument("--seed", type=int, help="seeds the split, every trial's weights and the sampler (default 0)")
    t.add_argument("--out", metavar="DIR", help="folder of the search (default runs/tune-<dataset>)")
    t.add_argument("--root", metavar="DIR", help="folder with the MNIST / Fashion-MNIST IDX files")
    t.set_defaults(func=cmd_tune)


def _space(args, settings: dict, images: bool):
    from lamina.tune.space import Dimension, SearchSpace, default_space, load_space, parse_flag

    space = default_space("image" if images else "table")
    if args.space:
        try:
            loaded, file_settings = load_space(args.space)
        except (ValueError, ImportError) as err:
            raise CLIError(_message(err)) from None
        space = space.updated(loaded.dims) if loaded.dims else space
        settings.update(file_settings)
    flags = {}
    for name in SPACE_FLAGS:
        text = getattr(args, name)
        if text is None:
            continue
        if name in ("channels", "kernel_size") and not images:
            raise CLIError(f"--{name.replace('_', '-')} is for --model cnn")
        if name == "channels":  # 'a,b' is one network; choices are separated by spaces or semicolons
            options = [o.strip() for o in text.replace(";", " ").split() if o.strip()]
            flags[name] = Dimension("choice", choices=tuple(options)) if len(options) > 1 else \
                Dimension("fixed", value=options[0])
            continue
        try:
            flags[name] = parse_flag(name, text)
        except ValueError as err:
            raise CLIError(_message(err)) from None
    return space.updated(flags) if flags else SearchSpace(dict(space.dims))


def _setting(args, settings: dict, name: str, default):
    value = getattr(args, name)
    return settings.get(name, default) if value is None else value


def cmd_tune(args) -> int:
    try:
        from lamina.tune import optuna_module, search, trials_table

        optuna = optuna_module()
    except ImportError as err:
        raise CLIError(f"lamina tune needs Optuna: pip install lamina[tune] ({_message(err)})") from None
    settings: dict = {}
    model = args.model or "mlp"
    kind = MODEL_KINDS[model]
    space = _space(args, settings, kind.images)
    unknown = set(settings) - {"data", "csv", "target", "task", "trials", "timeout", "epochs", "validation_fraction",
                               "startup_trials", "pruner", "min_epochs", "pruner_startup", "last_epoch",
                               "storage", "study", "seed", "out", "test_size"}
    if unknown:
        raise CLIError(f"{args.space}: unknown setting(s) in [tune]: {', '.join(sorted(unknown))}")
    for key in ("data", "csv", "target", "task", "test_size", "root"):
        if getattr(args, key, None) is None and key in settings:
            setattr(args, key, settings[key])
    from lamina.cli.runs import _data_spec

    name, data_spec = _data_spec(args)
    seed = _setting(args, settings, "seed", 0)
    trials = _setting(args, settings, "trials", 20)
    startup = _setting(args, settings, "startup_trials", 5)
    pruner_startup = _setting(args, settings, "pruner_startup", 5)
    fraction = _setting(args, settings, "validation_fraction", 0.2)
    pruner = _setting(args, settings, "pruner", "hyperband")
    min_epochs = _setting(args, settings, "min_epochs", 5)
    if trials < 1 or startup < 0 or pruner_startup < 0 or min_epochs < 1:
        raise CLIError("--trials and --min-epochs must be positive, --startup-trials and --pruner-startup not negative")
    if pruner not in ("hyperband", "median"):
        raise CLIError(f"--pruner must be hyperband or median, got {pruner!r}")
    if not 0 < fraction < 1:
        raise CLIError(f"--validation-fraction must be between 0 and 1, got {fraction}")
    if kind.datasets is not None and name not in kind.datasets:
        raise CLIError(f"--model {model} searches on images: use --data {' | '.join(kind.datasets)}")
    defaults = {**kind.generic, **kind.defaults.get(name, {})}
    epochs = _setting(args, settings, "epochs", defaults["epochs"])
    if epochs < 1:
        raise CLIError("--epochs must be positive")
    dataset = Path(args.csv).stem if args.csv else name
    out = Path(_setting(args, settings, "out", None) or Path("runs") / f"tune-{dataset}")
    out.mkdir(parents=True, exist_ok=True)
    storage = _setting(args, settings, "storage", None) or f"sqlite:///{out / 'tune.db'}"
    study_name = _setting(args, settings, "study", None) or "lamina-tune"

    data = _load_data(data_spec, seed, images=kind.images)
    if data["task"] == "classification" and "label_smoothing" not in space.dims:
        space = space.updated({"label_smoothing": DEFAULT_SMOOTHING})  # shown with the space, recorded per trial
    elif data["task"] == "regression" and "label_smoothing" in space.dims:
        raise CLIError("--label-smoothing is for classification, not regression")
    config = {"model": model, "dataset": dataset, "data": data_spec, "seed": seed,
              "task": data["task"], "n_features": int(np.prod(data["X_train"].shape[1:]))}
    config.update(kind.fit_inputs(data["X_train"]))
    config.update(feature_names=data["feature_names"], class_names=data["class_names"])
    if data["task"] == "classification":
        config["n_outputs"] = int(data["n_classes"])
    else:
        config.update(n_outputs=1, **fit_target_scaler(data["y_train"]))
    X_train, X_test, y_train, _ = _prepare(data, config)
    X_train, X_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)  # rows, as estimators take
    if data["task"] == "regression":
        y_train = y_train.reshape(-1)

    def write_trial(trial, estimator, value):
        """A run folder for a finished trial: what `lamina evaluate / predict / info` read."""
        p = estimator.get_params()
        folder = out / "trials" / str(trial.number)
        folder.mkdir(parents=True, exist_ok=True)
        run = {**config, "hidden": list(p["hidden_layer_sizes"]), "activation": p["activation"],
               "dropout": p["dropout"], "batchnorm": bool(p["batchnorm"]), "optimizer": p["optimizer"], "lr": p["lr"],
               "weight_decay": p["weight_decay"], "epochs": p["epochs"], "batch_size": p["batch_size"],
               "tune": {"trial": trial.number, "value": value, "params": trial.params,
                        "validation_fraction": fraction, "epoch": trial.user_attrs.get("best_epoch"),
                        "label_smoothing": float(getattr(p["loss"], "label_smoothing", 0.0))}}
        weights = estimator.module_.state_dict()
        if kind.images:  # the run's CNN starts at the convolution: the Unflatten in front (index 0) goes
            run.update(channels=[m.out_channels for m in estimator.module_.modules() if isinstance(m, nn.Conv2d)],
                       kernel_size=int(p.get("module__kernel_size", 5)), augment=False,
                       hidden=list(p.get("module__hidden", (120, 84))), activation=p.get("module__activation", "relu"),
                       dropout=p.get("module__dropout", 0.0), batchnorm=False)
            weights = {f"{int(k.split('.', 1)[0]) - 1}.{k.split('.', 1)[1]}": v for k, v in weights.items()}
        save(weights, folder / "model.safetensors")
        _write_json(folder / "history.json", estimator.history_.to_dict())
        _write_json(folder / "metrics.json", _test_metrics(estimator.module_, run, X_test, data["y_test"]))
        _write_json(folder / "config.json", run)

    monitor = "val_accuracy" if data["task"] == "classification" else "val_r2"
    search_config = {"X": X_train, "y": y_train, "task": data["task"], "space": space, "epochs": epochs,
                     "validation_fraction": fraction, "seed": seed, "monitor": monitor, "on_trial_end": write_trial,
                     "best_epoch": not _setting(args, settings, "last_epoch", False)}
    if kind.images:
        search_config["adapt"] = _cnn_arguments(config["image_shape"])
    print(f"tuning {'a CNN' if kind.images else 'an MLP'} on {config['dataset']} ({data['task']}, "
          f"{len(X_train)} training rows, "
          f"{fraction:g} of them for validation): {trials} trials, study {study_name!r} in {storage}", file=sys.stderr)
    for key, text in space.describe().items():
        print(f"  {key}: {text}", file=sys.stderr)

    def report(study, t):
        shown = "" if t.value is None else f" {monitor}={t.value:.4f}"
        epochs_run = len(t.intermediate_values)
        at = f" (epoch {t.user_attrs['best_epoch']})" if "best_epoch" in t.user_attrs else ""
        print(f"trial {t.number}: {t.state.name.lower()}{shown}{at} after {epochs_run} epoch(s) {t.params}",
              file=sys.stderr)

    started = time.perf_counter()
    try:
        study = search(search_config, trials, storage=storage, study_name=study_name,
                       timeout=_setting(args, settings, "timeout", None), seed=seed, startup_trials=startup,
                       pruner=pruner, min_epochs=min_epochs, pruner_startup=pruner_startup,
                       pruning=not args.no_pruning, on_trial=report)
    except ValueError as err:
        raise CLIError(_message(err)) from None
    elapsed = time.perf_counter() - started
    fixed = {name: dim.value for name, dim in space.dims.items() if dim.kind == "fixed"}
    return _summarise(optuna, study, out, monitor, elapsed, trials_table, fixed)


def _summarise(optuna, study, out: Path, monitor: str, elapsed: float, trials_table, fixed: dict) -> int:
    """trials.csv, best/, best.json and the plots; prints the best configuration: the searched values, then the
    fixed ones (``fixed``: the space's settings that every trial shares)."""
    header, rows = trials_table(study)
    with open(out / "trials.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    counts = {s: states.count(s) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
    print(f"{len(trials)} trials in the study: {counts['COMPLETE']} finished, {counts['PRUNED']} pruned, "
          f"{counts['FAIL']} failed, {counts['RUNNING']} running; this process: {elapsed:.1f} s")
    print(f"wrote {out / 'trials.csv'}")
    if not complete:
        print("no trial finished: no best model yet", file=sys.stderr)
        return 1
    best = study.best_trial
    source, target = out / "trials" / str(best.number), out / "best"
    if (source / "config.json").is_file():
        staging = out / f".best-{best.number}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    metrics = json.loads((target / "metrics.json").read_text()) if (target / "metrics.json").is_file() else {}
    summary = {"trial": best.number, monitor: best.value, "epoch": best.user_attrs.get("best_epoch"),
               "params": best.params, "fixed": fixed, "test": metrics,
               "trials": counts, "pruned_fraction": counts["PRUNED"] / max(len(trials), 1), "seconds": elapsed}
    _write_json(out / "best.json", summary)
    at = f" (epoch {best.user_attrs['best_epoch']})" if "best_epoch" in best.user_attrs else ""
    print(f"best: trial {best.number}, {monitor}={best.value:.4f}{at}"
          + (", test " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()) if metrics else ""))
    for key, value in best.params.items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    for key, value in fixed.items():
        print(f"  {key}: {value} (fixed)")
    print(f"best model: {target} (lamina evaluate {target})")
    for path in _plots(optuna, study, out, monitor):
        print(f"wrote {path}")
    return 0


def _plots(optuna, study, out: Path, monitor: str) -> list:
    try:
        from lamina import plot  # matplotlib (optional) loads only for plots
    except ImportError as err:
        print(f"note: no plots ({err})", file=sys.stderr)
        return []
    trials = study.get_trials(deepcopy=False)
    direction = "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
    points = [{"number": t.number, "state": t.state.name,
               "value": t.value if t.value is not None else (t.intermediate_values[max(t.intermediate_values)]
                                                             if t.intermediate_values else None)} for t in trials]
    written = [plot.plot_search_history(points, out / "search_history.png", direction, monitor)]
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as err:  # too few finished trials, or nothing varied
        print(f"note: no parameter importances ({_message(err)})", file=sys.stderr)
    else:
        if importances:
            written.append(plot.plot_param_importances(importances, out / "param_importances.png"))
    done = sorted((t for t in trials if t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: t.value,
                  reverse=direction == "maximize")
    curves = {f"trial {t.number}": [t.intermediate_values[k] for k in sorted(t.intermediate_values)]
              for t in trials if t.intermediate_values}
    best = [f"trial {t.number}" for t in done[:5] if t.intermediate_values]
    written.append(plot.plot_trial_curves(curves, out / "best_curves.png", monitor, highlight=best))
    return written
