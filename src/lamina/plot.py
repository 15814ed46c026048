"""Plots of training: loss curves, decision boundaries, learning rates, activations, confusion matrices,
gradient norms, attention weights, the training health that ``TrainingHealth`` records; and inside a
convolutional network: its first layer's filters and the feature maps they make. Each function writes a PNG
to ``path`` and returns the path.

matplotlib is an optional dependency (``pip install lamina[plot]``), imported on first use with the
Agg renderer on a Figure of its own (pyplot is not touched), so plotting works on servers and in CI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import lamina
from lamina import nn
from lamina.training import predict
from lamina.training.data import eval_mode

__all__ = ["plot_history", "plot_decision_boundary", "plot_lr_comparison", "plot_activations",
           "plot_confusion_matrix", "plot_gradient_norms", "plot_attention", "plot_images", "plot_filters",
           "plot_feature_maps", "feature_maps", "plot_health_quantiles", "plot_health", "plot_search_history",
           "plot_param_importances", "plot_trial_curves"]


def _figure(nrows=1, ncols=1, figsize=(6, 4), **kwargs):
    """A matplotlib Figure drawn by the Agg renderer, outside pyplot (no global state, no window)."""
    try:
        from matplotlib.figure import Figure  # optional dependency (lamina[plot]), loaded on first plot
    except ImportError:
        raise ImportError("lamina.plot needs matplotlib: pip install lamina[plot]") from None
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    return path


def _history_dict(history) -> dict:
    return history.history if hasattr(history, "history") else dict(history)


def plot_history(history, path, title: str | None = None, val_label: str = "validation") -> Path:
    """Train and validation curves of the loss and of each metric in a History (one panel each)."""
    h = _history_dict(history)
    skip = {"lr", "epoch_time", "samples_per_sec"}
    names = [k for k in h if not k.startswith("val_") and k not in skip]
    if not names:
        raise ValueError("plot_history: the history has no loss or metric to plot")
    fig, axes = _figure(1, len(names), figsize=(5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(h[name]) + 1)
        ax.plot(epochs, h[name], marker=".", label="train")
        if "val_" + name in h:
            ax.plot(epochs, h["val_" + name], marker=".", label=val_label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_decision_boundary(model, X, y, path, resolution: int = 200, title: str | None = None) -> Path:
    """The regions a classifier assigns to each class over 2-D inputs, with the data points on top."""
    X = np.asarray(X.array if hasattr(X, "array") else X, dtype=np.float32)
    y = np.asarray(y.array if hasattr(y, "array") else y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D inputs of shape (n, 2), got {X.shape}")
    pad = 0.1 * (X.max(0) - X.min(0)) + 1e-3
    lo, hi = X.min(0) - pad, X.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    out = predict(model, grid, batch_size=8192).array
    classes = (out.reshape(-1) > 0).astype(int) if out.ndim == 1 or out.shape[1] == 1 else out.argmax(1)
    fig, ax = _figure(figsize=(5, 5))
    n_classes = int(max(classes.max(), y.max())) + 1
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=levels, cmap="coolwarm", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", linewidths=0.4, s=18,
               vmin=0, vmax=max(n_classes - 1, 1))
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "decision boundary")
    return _save(fig, path)


def plot_lr_comparison(histories: dict, path, key: str = "loss", title: str | None = None,
                       xlabel: str = "epoch") -> Path:
    """Loss curves of the same model trained with different learning rates: ``{lr or label: History}``
    (or ``{label: {'loss': [values]}}``, e.g. per-step losses with ``xlabel='step'``)."""
    fig, ax = _figure(figsize=(6, 4))
    starts = []
    for label, history in histories.items():
        values = np.asarray(_history_dict(history)[key], dtype=np.float64)
        values = np.where(np.isfinite(values), values, np.nan)  # a diverged run's last values are not drawn
        name = f"lr={label:g}" if isinstance(label, (int, float)) else str(label)
        ax.plot(np.arange(1, len(values) + 1), values, marker="." if len(values) <= 50 else None, label=name)
        starts += values[:1].tolist()
    ax.set_yscale("log")
    if starts and np.isfinite(np.nanmax(starts)):
        ax.set_ylim(top=100 * np.nanmax(starts))  # a diverging curve leaves through the top
    ax.set_xlabel(xlabel)
    ax.set_ylabel(key)
    ax.set_title(title or "learning rate comparison")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)


def activation_curves(names=("relu", "leaky_relu", "tanh", "sigmoid", "gelu"), lo: float = -4.0, hi: float = 4.0,
                      n: int = 401) -> dict:
    """{name: (x, f(x), f'(x))} with the derivative from lamina's autograd (backward of sum f(x))."""
    modules = {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.1), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(),
               "gelu": nn.GELU()}
    curves = {}
    for name in names:
        if name not in modules:
            raise ValueError(f"unknown activation {name!r}; choose from {', '.join(modules)}")
        x = lamina.linspace(lo, hi, n, requires_grad=True)
        out = modules[name](x)
        out.sum().backward()
        curves[name] = (x.detach().numpy(), out.detach().numpy(), x.grad.numpy())
    return curves


def plot_activations(path, names=("relu", "leaky_relu", "tanh", "sigmoid", "gelu")) -> Path:
    """Each activation function (top) and its derivative computed by autograd (bottom)."""
    curves = activation_curves(names)
    fig, axes = _figure(2, len(curves), figsize=(3.2 * len(curves), 5.5), squeeze=False, sharex=True)
    for i, (name, (x, fx, dfx)) in enumerate(curves.items()):
        axes[0, i].plot(x, fx, color="C0")
        axes[0, i].set_title(name)
        axes[1, i].plot(x, dfx, color="C1")
        axes[1, i].set_xlabel("z")
        for ax in axes[:, i]:
            ax.grid(alpha=0.3)
            ax.axhline(0, color="k", lw=0.5)
            ax.axvline(0, color="k", lw=0.5)
    axes[0, 0].set_ylabel("f(z)")
    axes[1, 0].set_ylabel("f'(z)  (autograd)")
    return _save(fig, path)


def plot_confusion_matrix(matrix, path, class_names=None, title: str | None = None) -> Path:
    """A confusion matrix (rows: true class, columns: predicted class) with the counts written in the cells."""
    m = np.asarray(matrix.array if hasattr(matrix, "array") else matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {m.shape}")
    k = m.shape[0]
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(k)]
    fig, ax = _figure(figsize=(1.0 + 0.5 * k, 0.8 + 0.5 * k) if k > 6 else (4.5, 4))
    ax.imshow(m, cmap="Blues")
    slanted = k > 6 or max(map(len, names), default=0) > 5  # long names would run into each other
    ax.set_xticks(range(k), names, rotation=45 if slanted else 0, ha="right" if slanted else "center")
    ax.set_yticks(range(k), names)
    threshold = m.max() / 2 if m.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{m[i, j]:g}", ha="center", va="center", fontsize=8,
                    color="white" if m[i, j] > threshold else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    return _save(fig, path)


def plot_gradient_norms(history, path, title: str | None = None) -> Path:
    """Per-parameter gradient L2 norms per epoch (from ``callbacks.GradientMonitor``), log scale."""
    norms = history.gradient_norms if hasattr(history, "gradient_norms") else dict(history)
    if not norms:
        raise ValueError("plot_gradient_norms: no gradient norms recorded; train with callbacks.GradientMonitor()")
    fig, ax = _figure(figsize=(6.5, 4))
    for name, values in norms.items():
        ax.plot(np.arange(1, len(values) + 1), np.maximum(values, 1e-12), marker=".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean gradient L2 norm")
    ax.set_title(title or "gradient norms per parameter")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2 if len(norms) > 6 else 1)
    return _save(fig, path)


def plot_attention(weights, path, tokens=None, title: str | None = None, head_names=None) -> Path:
    """Attention weights as heat maps, one panel per head: row i (a query position) shows how much it attends
    to each column (a key position); each row sums to 1. ``weights``: (query, key), or (heads, query, key), e.g.
    one sample of ``MultiheadAttention(need_weights=True, average_attn_weights=False)``'s weights. ``tokens``
    label the positions (characters are shown as they are; space as '␣', newline as '⏎')."""
    w = np.asarray(weights.array if hasattr(weights, "array") else weights, dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ValueError(f"plot_attention: expected weights of shape (query, key) or (heads, query, key), got "
                         f"{w.shape}")
    heads, n_query, n_key = w.shape
    labels = None
    if tokens is not None:
        labels = [{" ": "␣", "\n": "⏎"}.get(str(t), str(t)) for t in tokens]
        if len(labels) != n_key:
            raise ValueError(f"plot_attention: {len(labels)} tokens for {n_key} key positions")
    cols = min(heads, 2)
    rows = -(-heads // cols)
    size = 1.2 + 0.13 * max(n_query, n_key)
    fig, axes = _figure(rows, cols, figsize=(size * cols + 1.0, size * rows + 0.5), squeeze=False)
    fig.set_layout_engine("constrained")  # places the shared colorbar, which tight_layout cannot
    for h, ax in enumerate(axes.ravel()):
        if h >= heads:
            ax.axis("off")
            continue
        image = ax.imshow(w[h], cmap="viridis", vmin=0.0, vmax=max(float(w[h].max()), 1e-12))
        ax.set_title(head_names[h] if head_names is not None else f"head {h}", fontsize=9)
        ax.set_xlabel("key position (attended to)", fontsize=8)
        ax.set_ylabel("query position", fontsize=8)
        if labels is not None:
            ax.set_xticks(range(n_key), labels, fontsize=7)
            ax.set_yticks(range(n_query), labels[-n_query:], fontsize=7)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="attention weight")
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path


# ---------------------------------------------------------------------------------------------------------------
# inside a convolutional network
# ---------------------------------------------------------------------------------------------------------------
def _first_conv(model) -> tuple[str, nn.Conv2d]:
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError(f"the model has no Conv2d layer to draw: {type(model).__name__}")


def _grid(n: int, max_cols: int = 8) -> tuple[int, int]:
    cols = min(n, max_cols)
    return -(-n // cols), cols


def plot_images(images, path, labels=None, ncols: int = 8, title: str | None = None) -> Path:
    """A grid of images (N, C, H, W) (grey for one channel, colour for three), each titled by its label."""
    images = np.asarray(getattr(images, "array", images), dtype=np.float32)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"plot_images needs images of shape (N, 1 or 3, H, W), got {images.shape}")
    rows, cols = _grid(len(images), ncols)
    fig, axes = _figure(rows, cols, figsize=(1.3 * cols + 0.3, 1.45 * rows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(images):
            picture = images[i].transpose(1, 2, 0)
            picture = (picture - picture.min()) / (np.ptp(picture) or 1.0)
            ax.imshow(picture[..., 0] if images.shape[1] == 1 else picture, cmap="gray", interpolation="nearest")
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_filters(model, path, title: str | None = None) -> Path:
    """The weights of the first Conv2d (a model, or the layer itself) as small images, one per output channel:
    red positive, blue negative, each filter on its own symmetric scale. A filter over several input channels
    shows their mean (in colour for three channels)."""
    name, conv = ("", model) if isinstance(model, nn.Conv2d) else _first_conv(model)
    w = conv.weight.detach().numpy()  # (out, in, kh, kw)
    n = w.shape[0]
    rows, cols = _grid(n)
    fig, axes = _figure(rows, cols, figsize=(1.3 * cols + 0.4, 1.3 * rows + 0.6), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        if w.shape[1] == 3:  # an RGB filter: each channel scaled into [0, 1] around grey
            f = w[i].transpose(1, 2, 0)
            ax.imshow(0.5 + 0.5 * f / (np.abs(f).max() or 1.0), interpolation="nearest")
        else:
            f = w[i].mean(axis=0)
            limit = np.abs(f).max() or 1.0
            ax.imshow(f, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"{i}", fontsize=8)
    where = f" ({name})" if name else ""
    fig.suptitle((title or f"first convolution{where}: {n} filters of {w.shape[2]}×{w.shape[3]}")
                 + "\nred: positive weights, blue: negative", fontsize=10)
    return _save(fig, path)


def _after_first_conv(model) -> tuple[str, object]:
    """The first Conv2d's name and module, or the normalisation / activation right after it in the same
    container (the feature maps the next layer sees)."""
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    index = next((i for i, (_, m) in enumerate(leaves) if isinstance(m, nn.Conv2d)), None)
    if index is None:
        raise ValueError(f"the model has no Conv2d layer to draw: {type(model).__name__}")
    parent = leaves[index][0].rpartition(".")[0]
    while index + 1 < len(leaves):
        name, module = leaves[index + 1]
        elementwise = type(module).__module__ == "lamina.nn.activation" or isinstance(module, nn.BatchNorm2d)
        if not elementwise or name.rpartition(".")[0] != parent:
            break
        index += 1
    return leaves[index]


def feature_maps(model, images) -> tuple[np.ndarray, str]:
    """(maps (N, C, H, W), layer name): what the first convolution (with the normalisation and activation that
    follow it) makes of ``images`` (N, C, H, W), in eval mode without a graph."""
    name, module = _after_first_conv(model)
    seen = []
    handle = module.register_forward_hook(lambda mod, inputs, output: seen.append(output.array))
    try:
        with eval_mode(model):
            model(lamina.as_tensor(np.asarray(getattr(images, "array", images), dtype=np.float32)))
    finally:
        handle.remove()
    return seen[0], name


def plot_feature_maps(model, images, path, labels=None, max_maps: int = 16, title: str | None = None) -> Path:
    """For each image (a row): the image, then the feature maps the first convolution layer (and its activation)
    makes of it, each on its own colour scale (bright: strong response)."""
    images = np.asarray(getattr(images, "array", images), dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"plot_feature_maps needs images of shape (N, C, H, W), got {images.shape}")
    maps, name = feature_maps(model, images)
    n, k = len(images), min(maps.shape[1], max_maps)
    fig, axes = _figure(n, k + 1, figsize=(1.25 * (k + 1) + 0.3, 1.35 * n + 0.7), squeeze=False)
    for r in range(n):
        picture = images[r].transpose(1, 2, 0) if images.shape[1] == 3 else images[r].mean(axis=0)
        if images.shape[1] == 3:
            picture = (picture - picture.min()) / (np.ptp(picture) or 1.0)
        axes[r, 0].imshow(picture, cmap="gray", interpolation="nearest")
        axes[r, 0].set_title(str(labels[r]) if labels is not None else "input", fontsize=8)
        for c in range(k):
            axes[r, c + 1].imshow(maps[r, c], cmap="magma", interpolation="nearest")
            if r == 0:
                axes[r, c + 1].set_title(f"map {c}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title or f"feature maps after layer '{name}' ({type(_after_first_conv(model)[1]).__name__}) of "
                           "the first convolution", fontsize=10)
    return _save(fig, path)


def _integer_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator  # matplotlib is loaded by now (_figure)

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _health_dict(health) -> dict:
    """A TrainingHealth's records as its ``to_dict()`` (what ``health.json`` holds), from either."""
    d = health.to_dict() if hasattr(health, "to_dict") else dict(health)
    if "layers" not in d:
        raise ValueError("expected a viz.TrainingHealth or its to_dict() / health.json (a dict with 'layers')")
    return d


def plot_health_quantiles(health, path, quantity: str = "activation", title: str | None = None) -> Path:
    """The distribution of each layer's activations (``quantity='activation'``) or weight gradients
    (``'grad'``) over training: per epoch the median, the 25–75%, 5–95% and min–max bands, one panel per layer."""
    if quantity not in ("activation", "grad"):
        raise ValueError(f"quantity must be 'activation' or 'grad', got {quantity!r}")
    d = _health_dict(health)
    key = f"{quantity}_quantiles"
    layers = {name: np.array([q if q else [np.nan] * len(d["quantiles"]) for q in records[key]], dtype=np.float64)
              for name, records in d["layers"].items() if records.get(key)}
    if not layers:
        raise ValueError(f"plot_health_quantiles: no {key} recorded")
    n = len(layers)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = _figure(rows, cols, figsize=(max(4.6 * cols, 8.0), 3.2 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (name, q) in zip(axes.flat, layers.items()):
        epochs = np.arange(1, len(q) + 1)
        for (lo, hi), alpha, label in (((0, 6), 0.12, "min–max"), ((1, 5), 0.22, "5–95%"), ((2, 4), 0.4, "25–75%")):
            ax.fill_between(epochs, q[:, lo], q[:, hi], color="C0", alpha=alpha, lw=0, label=label, step=None)
        ax.plot(epochs, q[:, 3], color="C0", lw=1.5, label="median")
        _integer_epochs(ax)
        kind = d.get("kinds", {}).get(name, "")
        ax.set_title(f"layer {name}" + (f" ({kind})" if kind and kind != "weight" else ""), fontsize=10)
        ax.set_xlabel("epoch")
        ax.axhline(0, color="k", lw=0.5)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7, loc="best")
    what = "activations" if quantity == "activation" else "weight gradients (dL/dW)"
    fig.suptitle(title or f"distribution of each layer's {what} over training (sampled batches)")
    return _save(fig, path)


def plot_health(health, path, title: str | None = None) -> Path:
    """Dead ReLU units and saturated sigmoid/tanh outputs (fraction per epoch), the ratio of one update's size to
    the weight's size (log scale; around 1e-3 is the usual healthy value) and gradient norms, per layer."""
    d = _health_dict(health)
    layers = d["layers"]
    fig, axes = _figure(1, 3, figsize=(15, 3.8), squeeze=False)
    panels = ((axes[0, 0], ("dead_fraction", "saturated_fraction"), "fraction of units",
               "dead ReLU units / saturated outputs", False),
              (axes[0, 1], ("update_ratio",), "|ΔW| / |W|", "update size / weight size", True),
              (axes[0, 2], ("grad_norm",), "‖dL/dW‖", "gradient norm per layer", True))
    for ax, keys, ylabel, panel_title, log in panels:
        drawn = 0
        for name, records in layers.items():
            for key in keys:
                values = records.get(key)
                if values:
                    values = np.asarray(values, dtype=np.float64)
                    if log:
                        values = np.maximum(values, 1e-12)
                    suffix = "" if len(keys) == 1 else (" dead" if key == "dead_fraction" else " saturated")
                    ax.plot(np.arange(1, len(values) + 1), values, marker="." if len(values) <= 50 else None,
                            label=f"{name}{suffix}")
                    drawn += 1
        if log and drawn:
            ax.set_yscale("log")
        if keys == ("update_ratio",) and drawn:
            ax.axhline(1e-3, color="k", lw=0.6, ls="--")
        if keys[0] == "dead_fraction":
            ax.set_ylim(-0.03, 1.03)
        if not drawn:
            ax.text(0.5, 0.5, "nothing recorded\n(no such layers)", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("epoch")
        _integer_epochs(ax)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        if drawn:
            ax.legend(fontsize=7, ncol=2 if drawn > 6 else 1)
    warnings = d.get("warnings") or []
    fig.suptitle(title or ("training health: " + (f"{len(warnings)} warning(s), see health.json" if warnings
                                                  else "no warnings")))
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------------------------
# hyperparameter search (lamina tune): plain numbers in, so that plotting needs no Optuna
# ---------------------------------------------------------------------------------------------------------------
def plot_search_history(trials, path, direction: str = "maximize", metric: str = "value",
                        title: str | None = None) -> Path:
    """Each trial's result by trial number: finished trials as dots, pruned ones as crosses at the last value
    they reported, and the best value so far as a step line. ``trials``: dicts with ``number``, ``state``
    ('COMPLETE', 'PRUNED', ...) and ``value`` (the last reported value for a pruned trial)."""
    fig, ax = _figure(figsize=(7, 4))
    done = [t for t in trials if t["state"] == "COMPLETE" and t.get("value") is not None]
    pruned = [t for t in trials if t["state"] == "PRUNED" and t.get("value") is not None]
    if done:
        ax.scatter([t["number"] for t in done], [t["value"] for t in done], s=28, label=f"finished ({len(done)})",
                   zorder=3)
        order = sorted(done, key=lambda t: t["number"])
        pick = np.maximum.accumulate if direction == "maximize" else np.minimum.accumulate
        ax.step([t["number"] for t in order], pick([t["value"] for t in order]), where="post", color="C3",
                label="best so far")
    if pruned:
        ax.scatter([t["number"] for t in pruned], [t["value"] for t in pruned], marker="x", color="0.45",
                   label=f"pruned ({len(pruned)}): last reported value")
    ax.set_xlabel("trial")
    _integer_epochs(ax)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"search history: {metric}")
    return _save(fig, path)


def plot_param_importances(importances: dict, path, title: str | None = None) -> Path:
    """Horizontal bars: how much of the result's variance each hyperparameter explains (largest on top)."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig, ax = _figure(figsize=(6, 0.5 * len(items) + 1.5))
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlabel("importance (fraction of the variance)")
    ax.set_xlim(0, max([v for _, v in items] + [0.01]) * 1.15)
    ax.set_title(title or "hyperparameter importances")
    return _save(fig, path)


def plot_trial_curves(curves: dict, path, metric: str = "value", highlight=(), title: str | None = None) -> Path:
    """Per-epoch curves of several trials (``{label: values}``): those named in ``highlight`` (the best ones)
    drawn in colour with a legend, the others thin and grey (where pruned ones stop, the pruner gave up)."""
    fig, ax = _figure(figsize=(7, 4.2))
    for label, values in curves.items():
        if label not in highlight:
            ax.plot(np.arange(1, len(values) + 1), values, color="0.75", lw=0.8)
    for label in highlight:
        values = curves[label]
        ax.plot(np.arange(1, len(values) + 1), values, marker="." if len(values) <= 40 else None, lw=1.6,
                label=label)
    ax.set_xlabel("epoch")
    _integer_epochs(ax)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if highlight:
        ax.legend(fontsize=8)
    ax.set_title(title or f"{metric} per epoch: the best trials in colour, the others grey")
    return _save(fig, path)
