"""Training health: a callback that watches each layer while ``fit`` trains and says what goes wrong.

``fit`` runs one by default (``fit(..., health=False)`` turns it off); ``history.health`` is that callback.
Per layer and per epoch it records, from a sample of the epoch's batches (every ``every``-th one, always the
first):

- for each activation module (ReLU, LeakyReLU, GELU, ELU, SiLU, Softplus, Sigmoid, Tanh): the activations' mean
  and std, quantiles (``QUANTILES``: min, 5%, 25%, median, 75%, 95%, max) of their values, the fraction of dead
  ReLU units (never positive in any sampled batch of the epoch) and of saturated sigmoid / tanh outputs (within
  0.01 of their limits);
- for each weight (a parameter of two or more dimensions; the layer is named by its module, or by the
  parameter's name when a module has several, as an LSTM): the gradient's L2 norm (mean over the sampled
  steps), quantiles of the gradient's entries, and the ratio of one update's size to the weight's size
  (measured on the epoch's first step).

The forward hooks that watch the activations are attached only for the forward passes of sampled batches, and
every statistic is a whole-array NumPy reduction (quantiles come from a strided subsample of at most ``POOL``
values per batch), so the cost stays a few percent of a training step. It warns once per layer and problem,
naming the layer, when

- gradients vanish (the first weighted layer's gradient norm is below ``vanish_ratio`` times the last one's),
- gradients explode (a gradient norm above ``explode_norm``),
- most of a layer's ReLU units are dead (more than ``dead_fraction``),
- a layer's units are identical (all rows of a weight matrix equal: symmetric initialisation, which gives
  every unit the same gradient, so they stay identical).

``health.history[layer][quantity]`` holds one value per epoch (a list of quantiles for ``*_quantiles``);
``health.warnings`` the messages given; ``health.to_dict()`` all of it as JSON-friendly data (what
``lamina train`` writes to ``health.json`` and ``lamina.plot.plot_health`` draws).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from lamina.nn.activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from lamina.training.callbacks import Callback

__all__ = ["TrainingHealth", "QUANTILES"]

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
POOL = 256  # values kept per sampled batch and tensor for the quantiles
KINDS = ((ReLU, "relu"), (Sigmoid, "sigmoid"), (Tanh, "tanh"), (LeakyReLU, "activation"), (GELU, "activation"),
         (ELU, "activation"), (SiLU, "activation"), (Softplus, "activation"))


def _flat(array: np.ndarray) -> np.ndarray:
    """The entries as one vector, a view in whatever order they are stored (a weight's gradient is often the
    transpose of a product: copying it into C order would cost more than the step's own work on it)."""
    return array.ravel(order="K")


def _norm(array: np.ndarray) -> float:
    """The L2 norm as one dot product (np.linalg.norm costs several microseconds more on a small array)."""
    flat = _flat(array)
    return math.sqrt(float(np.dot(flat, flat)))


def _subsample(array: np.ndarray) -> np.ndarray:
    flat = _flat(array)
    return flat[:: max(1, flat.size // POOL)].astype(np.float32, copy=True)


class TrainingHealth(Callback):
    """Record per-layer activation and gradient statistics each epoch and warn about unhealthy training.

    ``every``: sample one batch in ``every`` (the first of each epoch always); ``warn=False`` only collects the
    messages in ``warnings`` (the ``lamina`` command prints them itself)."""

    def __init__(self, vanish_ratio: float = 1e-3, explode_norm: float = 1e3, dead_fraction: float = 0.5,
                 every: int = 16, warn: bool = True):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"TrainingHealth: every must be a positive integer, got {every!r}")
        self.vanish_ratio, self.explode_norm, self.dead_fraction = vanish_ratio, explode_norm, dead_fraction
        self.every, self.warn = every, warn
        self._history: dict = {}
        self.kinds: dict = {}  # layer -> 'relu', 'sigmoid', 'tanh', 'activation' or 'weight'
        self.warnings: list = []
        self._given, self._handles, self._watched = set(), [], []
        self._sampling = self._sampled = False  # this batch's forward pass is watched / its step is measured

    # -- hooks of fit ---------------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict) -> None:
        model = self.state.model
        self.state.history.health = self
        self._weights = _weight_layers(model)
        self.kinds.update({name: "weight" for name, _ in self._weights})
        self._watched, self._first_epoch = [], logs.get("initial_epoch", 0)
        for name, module in model.named_modules():
            kind = next((k for cls, k in KINDS if isinstance(module, cls)), None)
            if kind is not None:
                self._watched.append((module, self._hook(name or type(module).__name__, kind)))
                self.kinds[name or type(module).__name__] = kind
        self._check_symmetry()

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        self._acts = {}  # layer -> [count, sum, sum of squares, ever positive (ReLU), saturated count, pool, kind]
        self._grads = {name: [] for name, _ in self._weights}
        self._grad_pool = {name: [] for name, _ in self._weights}
        self._before = None
        self._attach()  # the epoch's first batch is always sampled

    def on_before_backward(self, logs: dict) -> None:
        if self._sampling:  # (most steps are not sampled: they return at once)
            self._sampled, self._sampling = True, False
            self._detach()  # the sampled forward pass is over

    def on_before_optimizer_step(self, logs: dict) -> None:
        if not self._sampled:
            return
        for name, p in self._weights:
            if p.grad is not None:
                g = _flat(p.grad.array)
                self._grads[name].append(_norm(g))
                self._grad_pool[name].append(_subsample(g))
        if self._before is None:  # the update ratio is measured on the first step of the epoch
            self._before = [p.array.copy() for _, p in self._weights]

    def on_batch_end(self, step: int, logs: dict) -> None:
        if not self._sampled:
            if (step + 1) % self.every == 0:
                self._attach()  # the next batch's forward pass is sampled
            return
        if self._before is not None and self._before is not True:
            for (name, p), old in zip(self._weights, self._before):
                ratio = _norm(p.array - old) / (_norm(old) or 1.0)
                self._record(name, "update_ratio", ratio)
            self._before = True  # measured: not again this epoch
        self._sampled = False
        if (step + 1) % self.every == 0:
            self._attach()  # the next batch's forward pass is sampled

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._detach()
        self._sampling = False
        for name, (count, total, squares, positive, saturated, pool, kind) in self._acts.items():
            mean = total / count
            self._record(name, "activation_mean", mean)
            self._record(name, "activation_std", math.sqrt(max(squares / count - mean * mean, 0.0)))
            self._record(name, "activation_quantiles", pool)  # the quantiles are computed when read
            if kind == "relu":
                dead = 1.0 - np.count_nonzero(positive) / positive.size
                self._record(name, "dead_fraction", dead)
                if dead > self.dead_fraction:
                    self._warn("dead", name, f"{dead:.0%} of the ReLU units of layer {name!r} are dead (never "
                                             "positive in an epoch): they pass no gradient; try a smaller learning "
                                             "rate, LeakyReLU or another initialisation")
            elif kind in ("sigmoid", "tanh"):
                self._record(name, "saturated_fraction", saturated / count)
        norms = {}
        for name, values in self._grads.items():
            if values:
                norms[name] = sum(values) / len(values)  # (plain Python: a NumPy call costs more on a short list)
                self._record(name, "grad_norm", norms[name])
                self._record(name, "grad_quantiles", self._grad_pool[name])
                if not math.isfinite(norms[name]) or norms[name] > self.explode_norm:
                    self._warn("explode", name, f"gradients explode in layer {name!r}: mean norm {norms[name]:.3g} "
                                                "(clip them with clip_grad_norm= or lower the learning rate)")
        self._grad_pool = {name: [] for name, _ in self._weights}
        if len(norms) >= 2:
            first, last = list(norms)[0], list(norms)[-1]
            if norms[first] < self.vanish_ratio * norms[last]:
                self._warn("vanish", first, f"gradients vanish: layer {first!r} gets a gradient norm of "
                                            f"{norms[first]:.3g}, {norms[first] / norms[last]:.1e} times that of "
                                            f"layer {last!r}; it barely learns (ReLU, normalisation or a "
                                            "shallower network help)")
        if epoch == self._first_epoch:  # symmetric units stay symmetric: checked at the start and once more here
            self._check_symmetry()

    def on_train_end(self, logs: dict) -> None:
        self._detach()

    @property
    def history(self) -> dict:
        """{layer: {quantity: one value per epoch}}; ``*_quantiles``: a list of ``QUANTILES`` per epoch."""
        for records in self._history.values():
            for quantity in ("activation_quantiles", "grad_quantiles"):
                values = records.get(quantity, ())
                for i, v in enumerate(values):
                    if isinstance(v, tuple):  # the epoch's subsampled values, kept until now
                        values[i] = _quantiles(v)
        return self._history

    # -- saving ---------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything recorded, JSON-friendly: quantile levels, sampling, each layer's kind and records, warnings."""
        return {"quantiles": list(QUANTILES), "every": self.every, "kinds": dict(self.kinds),
                "layers": {k: {q: list(v) for q, v in d.items()} for k, d in self.history.items()},
                "warnings": list(self.warnings)}

    def save(self, path) -> Path:
        """Write ``to_dict()`` as JSON (e.g. ``health.json`` in a run folder); returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return path

    def state_dict(self) -> dict:  # carried through fit's checkpoint, so a resumed run keeps its records
        return {"history": self.to_dict()["layers"], "kinds": dict(self.kinds), "warnings": list(self.warnings),
                "given": [list(g) for g in sorted(self._given)]}

    def load_state_dict(self, state: dict) -> None:
        self._history = {k: {q: list(v) for q, v in d.items()} for k, d in state.get("history", {}).items()}
        self.kinds.update(state.get("kinds", {}))
        self.warnings = list(state.get("warnings", []))
        self._given = {tuple(g) for g in state.get("given", [])}

    # -- helpers --------------------------------------------------------------------------------------------------
    def _attach(self) -> None:
        self._sampling = True
        if not self._handles:
            self._handles = [module.register_forward_hook(hook) for module, hook in self._watched]

    def _detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, name: str, kind: str):
        def hook(module, inputs, output):
            if not module.training:
                return  # validation batches do not count
            a = output.array.reshape(output.shape[0], -1) if output.ndim > 1 else output.array.reshape(1, -1)
            entry = self._acts.get(name)
            if entry is None:
                entry = self._acts[name] = [0, 0.0, 0.0, np.zeros(a.shape[1], dtype=bool), 0, [], kind]
            entry[0] += a.size
            flat = _flat(a)
            entry[2] += float(np.dot(flat, flat))
            entry[5].append(_subsample(a))
            if kind == "relu":  # one pass gives the sum and each unit's "ever positive" (ReLU outputs are >= 0)
                per_unit = a.sum(axis=0)
                entry[1] += float(per_unit.sum())
                if entry[3].shape[0] == a.shape[1]:  # (a batch of another shape is not counted for dead units)
                    entry[3] |= per_unit > 0
                return
            entry[1] += float(a.sum())
            if kind == "sigmoid":
                entry[4] += int(np.count_nonzero((a < 0.01) | (a > 0.99)))
            elif kind == "tanh":
                entry[4] += int(np.count_nonzero(np.abs(a) > 0.99))
        return hook

    def _check_symmetry(self) -> None:
        for name, p in self._weights:
            w = p.array.reshape(p.shape[0], -1)
            if w.shape[0] > 1 and np.array_equal(w.max(axis=0), w.min(axis=0)):
                self._warn("symmetric", name, f"the {w.shape[0]} units of layer {name!r} are identical (all rows of "
                                              "its weight are equal): they get identical gradients and stay "
                                              "identical; initialise the weights randomly")

    def _record(self, layer: str, quantity: str, value) -> None:
        if isinstance(value, list):
            value = tuple(value)  # a pool of subsampled values (see history)
        self._history.setdefault(layer, {}).setdefault(quantity, []).append(value)

    def _warn(self, kind: str, layer: str, message: str) -> None:
        if (kind, layer) not in self._given:
            self._given.add((kind, layer))
            self.warnings.append(message)
            if self.warn:
                warnings.warn(message, RuntimeWarning, stacklevel=2)


def _weight_layers(model) -> list:
    """(layer name, weight) for every parameter of two or more dimensions: named by its module, or by its own
    name when the module holds several such weights (an LSTM's weight_ih_l0 and weight_hh_l0)."""
    found = [(name, p) for name, p in model.named_parameters() if p.ndim >= 2 and p.requires_grad]
    per_module = {}
    for name, _ in found:
        module = name.rpartition(".")[0]
        per_module[module] = per_module.get(module, 0) + 1
    return [((module if per_module[module] == 1 and module else name), p)
            for name, p in found for module in (name.rpartition(".")[0],)]


def _quantiles(pool: list) -> list:
    if not pool:
        return []
    values = np.sort(np.concatenate(pool))  # NaNs sort last: leave them out
    n = len(values) - int(np.count_nonzero(np.isnan(values)))
    if n == 0:
        return []
    return values[np.rint(np.asarray(QUANTILES) * (n - 1)).astype(np.intp)].tolist()  # the nearest ranks
