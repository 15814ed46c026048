"""The subcommands of ``lamina``: train (in ``train``), evaluate, predict, plot, graph, report, info. Each takes the
parsed arguments and returns the exit status."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

import lamina
from lamina import metrics
from lamina.cli.inputs import read_input
from lamina.cli.runs import (
    CLIError,
    _load_data,
    _loss,
    _read_json,
    _test_metrics,
    data_fingerprint,
    load_run,
    model_kind,
)
from lamina.cli.train import cmd_train
from lamina.serialization import write_atomic
from lamina.sklearn.mlp import predictions, targets
from lamina.sklearn.parts import outputs, predicted_classes
from lamina.training import History


def _reload_test_data(config):
    """The run's test inputs, prepared for its model, and the raw test targets."""
    kind = model_kind(config)
    data = _load_data(config["data"], config["seed"], images=kind.images)
    if config.get("data_sha256") not in (None, data_fingerprint(data)):
        source = config["data"].get("csv") or config["dataset"]
        print(f"warning: the data changed since the run was trained ({source} no longer gives the split it was "
              "trained and tested on: its SHA-256 differs from config.json's data_sha256); the numbers below are "
              "for the new data", file=sys.stderr)
    X_test = np.asarray(data["X_test"])
    if int(np.prod(X_test.shape[1:])) != config["n_features"]:
        raise CLIError(f"the data now has {int(np.prod(X_test.shape[1:]))} features but the model expects "
                       f"{config['n_features']}; train a new run on the data as it is now")
    return kind.inputs(X_test, config), data["y_test"]


__all__ = ["cmd_train", "cmd_evaluate", "cmd_predict", "cmd_plot", "cmd_graph", "cmd_report", "cmd_info"]


def cmd_evaluate(args) -> int:
    config, model = load_run(args.run)
    X_test, y_test = _reload_test_data(config)
    for key, value in _test_metrics(model, config, X_test, y_test).items():
        print(f"test {key}: {value:.4f}")
    return 0


def cmd_predict(args) -> int:
    config, model = load_run(args.run)
    X = read_input(Path(args.input), config, args.header)
    out = outputs(model, model_kind(config).inputs(X, config))  # a row's prediction ignores the file's other rows
    pred = predictions(out, config)  # class indices (as .npy), or values in the target's units
    if len(pred) != len(X):  # one prediction per input row, or nothing
        raise RuntimeError(f"{len(pred)} predictions for {len(X)} input rows of {args.input}")
    if config["task"] == "classification":
        names = config.get("class_names") or [str(i) for i in range(config["n_outputs"])]
        labels = [str(name) for name in predicted_classes(out, names)]
    else:
        labels = [f"{v:.6g}" for v in pred]
    if args.output:
        out_path = Path(args.output)
        if not out_path.parent.is_dir():
            raise CLIError(f"--output {out_path}: the folder {out_path.parent} does not exist; create it first")
        buffer = io.BytesIO() if out_path.suffix == ".npy" else io.StringIO(newline="")
        if out_path.suffix == ".npy":
            np.save(buffer, np.asarray(pred))
        else:
            w = csv.writer(buffer)
            w.writerow(["prediction"])
            w.writerows([label] for label in labels)
        data = buffer.getvalue()
        write_atomic(out_path, data if isinstance(data, bytes) else data.encode())  # never half a file
        print(f"wrote {len(labels)} predictions for {len(X)} input rows to {out_path}")
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
    written += _health_plots(run)
    if config["task"] == "classification":
        X_test, y_test = _reload_test_data(config)
        pred = predicted_classes(outputs(model, X_test))
        cm = metrics.confusion_matrix(np.asarray(y_test, dtype=np.int64), pred, num_classes=config["n_outputs"])
        written.append(plot.plot_confusion_matrix(cm, run / "confusion_matrix.png", config.get("class_names")))
        if config["n_features"] == 2:
            written.append(plot.plot_decision_boundary(model, X_test, y_test, run / "decision_boundary.png"))
    if model_kind(config).images:
        X_test, y_test = _reload_test_data(config)
        written.append(plot.plot_filters(model, run / "filters.png", title=f"{run.name}: first-layer filters"))
        names = config.get("class_names")
        labels = [f"true: {names[int(k)] if names else k}" for k in np.asarray(y_test[:4])]
        written.append(plot.plot_feature_maps(model, X_test[:4], run / "feature_maps.png", labels=labels))
    for path in written:
        print(f"wrote {path}")
    return 0


def _health_plots(run: Path) -> list:
    """health.png, health_activations.png, health_gradients.png from the run's health.json (if it has one)."""
    from lamina import plot

    if not (run / "health.json").is_file():
        return []
    health = _read_json(run / "health.json", "training health")
    written = [plot.plot_health(health, run / "health.png", title=f"{run.name}: training health")]
    for quantity, name in (("activation", "health_activations.png"), ("grad", "health_gradients.png")):
        if any(r.get(f"{quantity}_quantiles") for r in health.get("layers", {}).values()):
            written.append(plot.plot_health_quantiles(health, run / name, quantity))
    return written


def _test_batch(config, n: int):
    """The first n test samples as tensors: scaled features and the targets the loss takes."""
    X, y = _reload_test_data(config)
    y = targets(np.asarray(y[:n]), config)
    return lamina.from_numpy(X[:n]), lamina.from_numpy(y.astype(np.int64) if config["task"] == "classification"
                                                       else y)


def cmd_graph(args) -> int:
    config, model = load_run(args.run)
    X, y = _test_batch(config, args.batch_size)
    return write_graph(Path(args.run), model, X, y, _loss(config), f"{len(X)} test samples")


def write_graph(run: Path, model, x, y, loss_fn, what: str) -> int:
    """graph.html in the run folder: the model's graph on one batch, by module and by op."""
    from lamina import viz  # the drawing code loads only for this command

    model.eval()  # dropout off: the graph shows what the trained model computes
    graphs = [viz.graph(model, x, target=y, loss_fn=loss_fn, level=level) for level in ("module", "op")]
    path = run / "graph.html"
    viz.page(graphs, title=f"{run.name}: the computation graph of {what}", path=path)
    print(f"wrote {path}")
    return 0


def run_records(run: Path) -> tuple:
    """A run's History, its metrics.json (or {}) and its health.json (or None)."""
    history = History.from_dict(_read_json(run / "history.json", "history"))
    results = _read_json(run / "metrics.json", "metrics") if (run / "metrics.json").is_file() else {}
    health = _read_json(run / "health.json", "training health") if (run / "health.json").is_file() else None
    return history, results, health


def cmd_report(args) -> int:
    """report.html: configuration, metrics, curves, confusion matrix, training health, one batch's trace, graph."""
    import tempfile

    from lamina import viz  # the drawing code loads only for this command

    config, model = load_run(args.run)
    run = Path(args.run)
    history, results, health = run_records(run)
    data = config["data"]
    source = f"{data['csv']} (target {data['target']})" if "csv" in data else config["dataset"]
    report = viz.Report(f"lamina report: {run.name}", f"{source}, {config['task']}, {len(history)} epochs"
                        + (" (interrupted)" if history.interrupted else ""))
    last = {"last epoch " + k.replace("val_", "test "): v for k, v in history.last().items()
            if k not in ("epoch_time", "samples_per_sec")}
    report.table("Final metrics", {**{f"test {k}": v for k, v in results.items()}, **last})
    settings = {k: v for k, v in config.items() if k not in ("scaler", "target_scaler", "data")}
    settings.update({f"data {k}": v for k, v in data.items()})
    settings["parameters"] = sum(p.numel() for p in model.parameters())
    settings["model"] = repr(model)
    report.table("Configuration", settings)
    X, y = _test_batch(config, args.batch_size)
    model.eval()  # dropout off: the trace and the graph show what the trained model computes
    trace = viz.trace(model, X, y, _loss(config))
    with tempfile.TemporaryDirectory() as tmp:
        figures = _report_figures(model, config, history, health, trace, Path(tmp))
        if "loss" in figures:
            report.image("Loss and metric curves", figures["loss"], "per epoch: training and test (held-out) data")
        if "confusion" in figures:
            report.image("Confusion matrix", figures["confusion"], "test data: rows the true class, columns the "
                                                                   "predicted one")
        if health is not None:
            report.images("Training health", [(figures[k], c) for k, c in (
                ("health", "dead or saturated units, update size relative to the weights, gradient norms"),
                ("activations", "each activation layer's values: quantile bands per epoch"),
                ("gradients", "each weight's gradient dL/dW: quantile bands per epoch")) if k in figures],
                note=(f"sampled every {health.get('every')}th batch; warnings: {len(health.get('warnings', []))}"))
            if health.get("warnings"):
                report.text("Health warnings", "", health["warnings"])
        report.trace(f"Building blocks of one batch ({len(X)} test samples)", trace, figures.get("trace"),
                     "forward: a[l-1], W, b → z, a; backward: dA → dZ, dW, db, dA[l-1] (gradients of the loss)")
        if "note" in figures:
            report.text("Plots", figures["note"])
    graphs = [viz.graph(model, X, target=y, loss_fn=_loss(config), level=level) for level in ("module", "op")]
    report.graphs("Computation graph", graphs, f"{len(X)} test samples through the trained model; click a module "
                                               "to collapse or expand it, hover a node for its value and gradient")
    path = run / "report.html"
    report.to_html(path)
    print(f"wrote {path}")
    return 0


def _report_figures(model, config, history, health, trace, folder: Path) -> dict:
    """PNG bytes by name for the report ({'note': why} instead when matplotlib is missing)."""
    try:
        from lamina import plot  # matplotlib (optional) loads only for plots
    except ImportError as err:
        return {"note": f"no plots: {err}"}
    held_out = "validation" if config.get("task") == "language_model" else "test"  # what a run's val_* are
    figures = {"loss": plot.plot_history(history, folder / "loss.png", val_label=held_out),
               "trace": trace.plot(folder / "trace.png")}
    if config["task"] == "classification":
        X_test, y_test = _reload_test_data(config)
        pred = predicted_classes(outputs(model, X_test))
        cm = metrics.confusion_matrix(np.asarray(y_test, dtype=np.int64), pred, num_classes=config["n_outputs"])
        figures["confusion"] = plot.plot_confusion_matrix(cm, folder / "cm.png", config.get("class_names"))
    if health is not None:
        figures["health"] = plot.plot_health(health, folder / "health.png")
        for quantity, name in (("activation", "activations"), ("grad", "gradients")):
            if any(r.get(f"{quantity}_quantiles") for r in health.get("layers", {}).values()):
                figures[name] = plot.plot_health_quantiles(health, folder / f"{name}.png", quantity)
    return {k: Path(v).read_bytes() for k, v in figures.items()}


def cmd_info(args) -> int:
    config, model = load_run(args.run)
    run = Path(args.run)
    n_params = sum(p.numel() for p in model.parameters())
    data = config["data"]
    source = f"{data['csv']} (target {data['target']})" if "csv" in data else config["dataset"]
    print(f"run:        {run}")
    print(f"model kind: {config.get('model', 'mlp')}" + (" (with --augment)" if config.get("augment") else ""))
    inputs = (f"{'×'.join(map(str, config['image_shape']))} images" if model_kind(config).images
              else f"{config['n_features']} features")
    print(f"data:       {source}, {config['task']}, {inputs}, {config['n_outputs']} outputs")
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
