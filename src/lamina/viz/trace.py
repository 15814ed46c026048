"""Each layer as the textbook's building block, for one real batch.

Forward, layer l takes the activation a[l-1] and its parameters W[l], b[l] to z[l] = W[l]·a[l-1] + b[l] and
a[l] = g(z[l]). Backward, it takes dA[l] = dL/da[l] to dZ[l] = dA[l]·g'(z[l]), dW[l], db[l] and
dA[l-1], which it hands to the layer below. ``trace(model, x, y, loss_fn)`` runs one forward and one backward
pass and keeps every one of these tensors, with shapes and statistics.

A layer starts at each module with a weight matrix (a parameter of two or more dimensions: ``Linear``) and
takes the parameter-free modules that follow it (the activation, ``Dropout``) and normalisation layers;
z[l] is the weighted module's output and a[l] the last module's. The gradients come from
``autograd.grad``: no ``.grad`` changes, and they equal what ``loss.backward()`` puts in each parameter's
``.grad``. The model runs in its current mode (``model.eval()`` first to trace without dropout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lamina.autograd import grad as autograd_grad
from lamina.factories import as_tensor
from lamina.nn.module import Module
from lamina.tensor import Tensor
from lamina.viz.graph import tensor_stats

FORWARD = ("a_prev", "W", "b", "z", "a")
BACKWARD = ("dA_prev", "dW", "db", "dZ", "dA")  # each under its forward counterpart
GRAD_OF = dict(zip(BACKWARD, FORWARD))


@dataclass
class TensorInfo:
    """One tensor of a building block: its textbook name, the array, its shape and statistics."""

    name: str
    array: np.ndarray

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    @property
    def stats(self) -> dict:
        return tensor_stats(self.array)


@dataclass
class LayerTrace:
    """Layer ``index`` (1 for the first): the modules it spans and its tensors by key (``FORWARD`` and
    ``BACKWARD``; ``W`` and ``b`` are absent for a layer without them, e.g. a leading ``Flatten``)."""

    index: int
    modules: list
    tensors: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.tensors[key].array

    def __contains__(self, key: str) -> bool:
        return key in self.tensors

    @property
    def name(self) -> str:
        return " → ".join(self.modules)


def textbook_name(key: str, index: int) -> str:
    """'a_prev' of layer 2 is a[1], 'dW' is dW[2], and so on."""
    if key.endswith("_prev"):
        return f"{key[:-5]}[{index - 1}]"
    return f"{key}[{index}]"


class Trace:
    """The building blocks of every layer for one batch: ``trace.layers``, ``trace.loss``; ``print(trace)``
    shows the table, ``trace.plot(path)`` draws the figure (needs matplotlib)."""

    def __init__(self, layers: list, loss: float):
        self.layers, self.loss = layers, loss

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i) -> LayerTrace:
        return self.layers[i]

    def __repr__(self):
        return f"Trace({len(self.layers)} layers, loss={self.loss:.4g})"

    def table(self) -> str:
        """One line per tensor: name, shape, min, max, mean, L2 norm; forward then backward for each layer."""
        head = f"{'':4}{'tensor':<10}{'shape':<16}{'min':>11}{'max':>11}{'mean':>11}{'norm':>11}"
        lines = [f"loss {self.loss:.6g}", head]
        for layer in self.layers:
            lines.append(f"layer {layer.index}: {layer.name}")
            for direction, keys in (("forward", FORWARD), ("backward", tuple(reversed(BACKWARD)))):
                lines.append(f"  {direction}")
                for key in keys:
                    if key not in layer.tensors:
                        continue
                    info = layer.tensors[key]
                    s = info.stats or {}
                    values = "".join(f"{s[k]:>11.4g}" if k in s else f"{'-':>11}" for k in ("min", "max", "mean",
                                                                                           "norm"))
                    lines.append(f"{'':4}{textbook_name(key, layer.index):<10}{str(info.shape):<16}{values}")
        return "\n".join(lines)

    __str__ = table

    def plot(self, path, max_rows: int = 64) -> Path:
        """A PNG with two rows per layer: forward (a[l-1], W, b, z, a; left to right) and below it backward
        (dA[l-1], dW, db, dZ, dA; computed right to left), each tensor as a heat map (red > 0 > blue), batch
        tensors showing their first ``max_rows`` samples."""
        try:
            from matplotlib.figure import Figure  # optional dependency (lamina[plot]), loaded on first plot
        except ImportError:
            raise ImportError("lamina.viz.Trace.plot needs matplotlib: pip install lamina[plot]") from None
        rows = 2 * len(self.layers)
        fig = Figure(figsize=(15, 2.3 * rows))
        axes = fig.subplots(rows, 5, squeeze=False)
        for li, layer in enumerate(self.layers):
            for r, keys in enumerate((FORWARD, BACKWARD)):
                for c, key in enumerate(keys):
                    ax = axes[2 * li + r][c]
                    if key not in layer.tensors:
                        ax.axis("off")
                        continue
                    _heatmap(ax, layer.tensors[key], textbook_name(key, layer.index), max_rows)
                label = (f"layer {layer.index}  forward →" if r == 0 else f"layer {layer.index}  ← backward")
                axes[2 * li + r][0].set_ylabel(label + ("\n" + layer.name if r == 0 else ""), fontsize=9)
        fig.suptitle(f"one batch through each layer: loss {self.loss:.4g}; forward left to right, backward "
                     "(gradients of the loss) right to left")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90, format="png")
        return path


def _heatmap(ax, info: TensorInfo, name: str, max_rows: int) -> None:
    a = info.array
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(1, -1)
    else:
        a = a.reshape(a.shape[0], -1)
    a = a[:max_rows].astype(np.float32)
    vmax = float(np.abs(a).max()) or 1.0
    ax.imshow(a, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
    s = info.stats
    ax.set_title(f"{name} {info.shape}", fontsize=9)
    if s:
        ax.set_xlabel(f"mean {s['mean']:.3g}  norm {s['norm']:.3g}  |max| {vmax:.3g}", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _has_weight(module: Module) -> bool:
    return any(p.ndim >= 2 for p in module.parameters(recurse=False))


def trace(model: Module, x, y, loss_fn) -> Trace:
    """Run ``loss_fn(model(x), y)`` forward and backward and return every layer's building block."""
    if not isinstance(model, Module):
        raise TypeError(f"trace(model, x, y, loss_fn): model must be a lamina.nn.Module, got {type(model).__name__}")
    x = x if isinstance(x, Tensor) else as_tensor(x)
    x = x.detach().requires_grad_(True) if x.dtype.kind == "f" else x  # a leaf of its own, so dA[0] exists
    y = y if isinstance(y, Tensor) else as_tensor(y)
    calls, handles = [], []

    def record(name):
        def hook(module, inputs, output):
            if len(inputs) == 1 and isinstance(inputs[0], Tensor) and isinstance(output, Tensor):
                calls.append((name, module, inputs[0], output))
        return hook

    try:
        for name, module in model.named_modules():
            if not any(True for _ in module.children()):
                handles.append(module.register_forward_hook(record(name or type(module).__name__)))
        out = model(x)
    finally:
        for h in handles:
            h.remove()
    loss = loss_fn(out, y)
    if not isinstance(loss, Tensor) or loss.ndim != 0:
        raise ValueError("trace: loss_fn(model(x), y) must return a scalar Tensor")
    if loss.grad_fn is None:
        raise ValueError("trace: the loss has no recorded graph (grad mode is off, or nothing requires grad)")
    if not calls:
        raise ValueError(f"trace: {type(model).__name__} called no layer without submodules on a single tensor")
    layers = []
    for name, module, inp, output in calls:
        label = f"{name}: {type(module).__name__}" if name != type(module).__name__ else name
        if _has_weight(module) or not layers:
            layer = LayerTrace(len(layers) + 1, [label])
            layer.tensors["a_prev"] = inp
            layer.tensors["z"] = output
            if _has_weight(module):
                layer.tensors["W"] = module.weight
                if getattr(module, "bias", None) is not None:
                    layer.tensors["b"] = module.bias
            layers.append(layer)
        else:
            layer = layers[-1]
            layer.modules.append(label)
        layer.tensors["a"] = output
    wanted, seen = [], set()
    for layer in layers:
        for t in layer.tensors.values():
            if t.requires_grad and id(t) not in seen:
                seen.add(id(t))
                wanted.append(t)
    grads = autograd_grad(loss, wanted, allow_unused=True)
    grad_of = {id(t): g for t, g in zip(wanted, grads)}
    for layer in layers:
        tensors = {}
        for key, t in layer.tensors.items():
            tensors[key] = TensorInfo(textbook_name(key, layer.index), t.detach().array)
        for key in BACKWARD:
            t = layer.tensors.get(GRAD_OF[key])
            g = grad_of.get(id(t)) if t is not None else None
            if g is not None:
                tensors[key] = TensorInfo(textbook_name(key, layer.index), g.array)
        layer.tensors = tensors
    return Trace(layers, float(loss.item()))
