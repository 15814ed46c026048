"""Training health: a callback that watches each layer while ``fit`` trains and says what goes wrong.

Per layer and per epoch it records the activations' mean and std, the fraction of dead ReLU units (never
positive in the whole epoch) and of saturated sigmoid / tanh outputs (within 0.01 of their limits), each
weight's gradient norm (mean over the epoch's steps) and the ratio of one update's size to the weight's size
(measured on the epoch's first step). It warns once per layer and problem, naming the layer, when

- gradients vanish (the first weighted layer's gradient norm is below ``vanish_ratio`` times the last one's),
- gradients explode (a gradient norm above ``explode_norm``),
- most of a layer's ReLU units are dead (more than ``dead_fraction``),
- a layer's units are identical (all rows of a weight matrix equal: symmetric initialisation, which gives
  every unit the same gradient, so they stay identical).

``health.history[layer][quantity]`` holds one value per epoch; ``health.warnings`` the messages given.
"""

from __future__ import annotations

import warnings

import numpy as np

from lamina.nn.activation import ReLU, Sigmoid, Tanh
from lamina.training.callbacks import Callback

__all__ = ["TrainingHealth"]


class TrainingHealth(Callback):
    """Record per-layer activation and gradient statistics each epoch and warn about unhealthy training."""

    def __init__(self, vanish_ratio: float = 1e-3, explode_norm: float = 1e3, dead_fraction: float = 0.5):
        self.vanish_ratio, self.explode_norm, self.dead_fraction = vanish_ratio, explode_norm, dead_fraction
        self.history: dict = {}
        self.warnings: list = []
        self._given, self._handles = set(), []

    # -- hooks of fit ---------------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict) -> None:
        model = self.state.model
        self._weights = [(name.rpartition(".")[0] or name, p) for name, p in model.named_parameters()
                         if p.ndim >= 2]
        for name, module in model.named_modules():
            if isinstance(module, (ReLU, Sigmoid, Tanh)):
                self._handles.append(module.register_forward_hook(self._watch(name, module)))
        self._check_symmetry()

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        self._acts = {}  # layer -> [count, sum, sum of squares, ever positive (ReLU), saturated count]
        self._grads = {name: [] for name, _ in self._weights}
        self._before = None

    def on_before_optimizer_step(self, logs: dict) -> None:
        for name, p in self._weights:
            if p.grad is not None:
                self._grads[name].append(float(np.linalg.norm(p.grad.array)))
        if self._before is None:  # the update ratio is measured on the first step of the epoch
            self._before = [p.array.copy() for _, p in self._weights]

    def on_batch_end(self, step: int, logs: dict) -> None:
        if self._before is not None and not isinstance(self._before, bool):
            for (name, p), old in zip(self._weights, self._before):
                ratio = float(np.linalg.norm(p.array - old) / (np.linalg.norm(old) or 1.0))
                self._record(name, "update_ratio", ratio)
            self._before = True  # measured: not again this epoch

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        for name, (count, total, squares, positive, saturated, kind) in self._acts.items():
            mean = total / count
            self._record(name, "activation_mean", mean)
            self._record(name, "activation_std", float(np.sqrt(max(squares / count - mean * mean, 0.0))))
            if kind == "relu":
                dead = float(1.0 - positive.mean())
                self._record(name, "dead_fraction", dead)
                if dead > self.dead_fraction:
                    self._warn("dead", name, f"{dead:.0%} of the ReLU units of layer {name!r} are dead (never "
                                             "positive in an epoch): they pass no gradient; try a smaller learning "
                                             "rate, LeakyReLU or another initialisation")
            else:
                self._record(name, "saturated_fraction", saturated / count)
        norms = {}
        for name, values in self._grads.items():
            if values:
                norms[name] = float(np.mean(values))
                self._record(name, "grad_norm", norms[name])
                if not np.isfinite(norms[name]) or norms[name] > self.explode_norm:
                    self._warn("explode", name, f"gradients explode in layer {name!r}: mean norm {norms[name]:.3g} "
                                                "(clip them with clip_grad_norm= or lower the learning rate)")
        if len(norms) >= 2:
            first, last = list(norms)[0], list(norms)[-1]
            if norms[first] < self.vanish_ratio * norms[last]:
                self._warn("vanish", first, f"gradients vanish: layer {first!r} gets a gradient norm of "
                                            f"{norms[first]:.3g}, {norms[first] / norms[last]:.1e} times that of "
                                            f"layer {last!r}; it barely learns (ReLU, normalisation or a "
                                            "shallower network help)")
        self._check_symmetry()

    def on_train_end(self, logs: dict) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    # -- helpers --------------------------------------------------------------------------------------------------
    def _watch(self, name: str, module):
        kind = "relu" if isinstance(module, ReLU) else "sigmoid" if isinstance(module, Sigmoid) else "tanh"

        def hook(module, inputs, output):
            if not module.training:
                return  # validation batches do not count
            a = output.array.reshape(output.shape[0], -1) if output.ndim > 1 else output.array.reshape(1, -1)
            entry = self._acts.get(name)
            if entry is None:
                entry = self._acts[name] = [0, 0.0, 0.0, np.zeros(a.shape[1], dtype=bool), 0, kind]
            entry[0] += a.size
            entry[1] += float(a.sum(dtype=np.float64))
            entry[2] += float(np.square(a, dtype=np.float64).sum())
            if kind == "relu":
                entry[3] |= (a > 0).any(axis=0)
            elif kind == "sigmoid":
                entry[4] += int(np.count_nonzero((a < 0.01) | (a > 0.99)))
            else:
                entry[4] += int(np.count_nonzero(np.abs(a) > 0.99))
        return hook

    def _check_symmetry(self) -> None:
        for name, p in self._weights:
            w = p.array.reshape(p.shape[0], -1)
            if w.shape[0] > 1 and np.array_equal(w.max(axis=0), w.min(axis=0)):
                self._warn("symmetric", name, f"the {w.shape[0]} units of layer {name!r} are identical (all rows of "
                                              "its weight are equal): they get identical gradients and stay "
                                              "identical; initialise the weights randomly")

    def _record(self, layer: str, quantity: str, value: float) -> None:
        self.history.setdefault(layer, {}).setdefault(quantity, []).append(value)

    def _warn(self, kind: str, layer: str, message: str) -> None:
        if (kind, layer) not in self._given:
            self._given.add((kind, layer))
            self.warnings.append(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
