"""Training health: a callback that watches each layer while ``fit`` trains and says what goes wrong.

``fit`` runs one by default (``fit(..., health=False)`` turns it off); ``history.health`` is that callback.
Per layer and per epoch it records, from a sample of the epoch's batches (every ``every``-th one and always the
first, so every epoch has a record however few batches it has):

- for each activation module (ReLU, LeakyReLU, GELU, ELU, SiLU, Softplus, Sigmoid, Tanh): the activations' mean
  and std, quantiles (``QUANTILES``: min, 5%, 25%, median, 75%, 95%, max) of their values, the fraction of dead
  ReLU units (never positive in any sampled batch of the epoch) and of saturated sigmoid / tanh outputs (within
  0.01 of their limits);
- for each weight (a parameter of two or more dimensions; the layer is named by its module, or by the
  parameter's name when a module has several, as an LSTM): the gradient's L2 norm (mean over the sampled
  steps), quantiles of the gradient's entries, and the ratio of one update's size to the weight's size
  (measured on the epoch's first step).

It never changes what training computes (it only reads activations, gradients and weights), so a seeded run
trains to the same numbers with it or without. It warns once per layer and problem, naming the layer, when

- gradients vanish (the first weighted layer's gradient norm is below ``vanish_ratio`` times the last one's),
- gradients explode (a gradient norm above ``explode_norm``),
- most of a layer's ReLU units are dead (more than ``dead_fraction``),
- a layer's units are identical (all rows of a weight matrix equal: symmetric initialisation, which gives
  every unit the same gradient, so they stay identical).

Its cost (``benchmarks/health_overhead.py`` measures it): on a small network a sampled step pays for the number
of NumPy calls and Python steps, not for arithmetic (and a NumPy call the training step itself does not make runs
cold, several times slower than in a loop), so:

- the forward hooks are attached only for the forward passes of sampled batches, and only keep each output;
- a tensor of more than ``SMALL`` values (an activation, gradient or weight) is reduced at once, by whole-array
  calls whose fixed cost is small next to its size;
- the small ones are copied, in one call per sampled step, and their statistics computed for many epochs
  together: one float64 buffer of their values and squares, one ``np.add.reduceat`` for every sum and sum of
  squares. That happens when ``MAX_PENDING`` (128) epochs wait, or ``latency`` seconds (0.5) after the first of
  them ended, and always before the records are read (``history``, ``to_dict``, ``state_dict``) and when
  training ends. Each epoch's records come from its own values alone, so they are the same whenever that
  happens; only a warning can come up to that many epochs (or seconds) after the epoch that shows the problem;
- the quantiles are computed from the pools when the records are read.

``health.history[layer][quantity]`` holds one value per epoch (a list of quantiles for ``*_quantiles``);
``health.warnings`` the messages given; ``health.to_dict()`` all of it as JSON-friendly data (what
``lamina train`` writes to ``health.json`` and ``lamina.plot.plot_health`` draws).
"""

from __future__ import annotations

import itertools
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from lamina.nn.activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from lamina.training.callbacks import Callback

__all__ = ["TrainingHealth", "QUANTILES"]

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
POOL = 256  # values kept per sampled batch and tensor for the quantiles
SMALL = 2048  # tensors of at most this many values are reduced together, in one buffer (see the module's doc)
KINDS = ((ReLU, "relu"), (Sigmoid, "sigmoid"), (Tanh, "tanh"), (LeakyReLU, "activation"), (GELU, "activation"),
         (ELU, "activation"), (SiLU, "activation"), (Softplus, "activation"))
MAX_PENDING = 128  # epochs whose small tensors wait to be summed together, at most
MAX_HELD = 1 << 18  # values copied and not yet summed, at most (beyond, the epoch's are summed at once)
SATURATING = ("sigmoid", "tanh")
TANH_SATURATED = float(np.float32(0.99)) ** 2  # (exact in float64, as the square of a float32 value is)
SIGMOID_SATURATED = (float(np.float32(0.01)), float(np.float32(0.99)))  # (what a float32 comparison uses)
_ACT, _GRAD, _OLD, _NEW = range(4)  # what a copied tensor is


def _flat(array: np.ndarray) -> np.ndarray:
    """The entries as one vector, a view in whatever order they are stored (a weight's gradient is often the
    transpose of a product: copying it into C order would cost more than the step's own work on it)."""
    return array.ravel(order="K")


def _norm(array: np.ndarray) -> float:
    """The L2 norm as one dot product (np.linalg.norm costs several microseconds more on a small array)."""
    flat = _flat(array)
    return math.sqrt(float(np.dot(flat, flat)))


def _subsample(flat: np.ndarray) -> np.ndarray:
    """The strided subsample kept for the quantiles, copied."""
    return flat[:: max(1, flat.size // POOL)].astype(np.float32, copy=True)


class _Layer:
    """One activation layer's sums over the sampled batches of an epoch."""

    __slots__ = ("kind", "count", "total", "squares", "units", "saturated", "pools")

    def __init__(self, kind: str):
        self.kind, self.count, self.total, self.squares, self.saturated = kind, 0, 0.0, 0.0, 0
        self.units = None  # ReLU: each unit's sum of outputs, positive if and only if the unit was ever positive
        self.pools = []


class _Epoch:
    """What the sampled steps of one epoch saw: the sums of its large tensors, taken at once, and copies of its
    small ones (``samples``: per sampled step, the copied values, what they are, the weights after the update)."""

    __slots__ = ("number", "acts", "grads", "grad_pools", "ratios", "samples", "symmetric")

    def __init__(self, number: int):
        self.number, self.acts, self.ratios, self.samples, self.symmetric = number, {}, {}, [], []
        self.grads, self.grad_pools = {}, {}  # weight -> the gradient norm of each sampled step; their pools


class _Pending:
    """A record computed when first read, from values kept until then (see ``TrainingHealth.history``)."""

    __slots__ = ("compute", "args")

    def __init__(self, compute, *args):
        self.compute, self.args = compute, args


class TrainingHealth(Callback):
    """Record per-layer activation and gradient statistics each epoch and warn about unhealthy training.

    ``every``: sample one batch in ``every`` (the first of each epoch always); ``warn=False`` only collects the
    messages in ``warnings`` (the ``lamina`` command prints them itself). ``latency``: seconds an ended epoch's
    statistics may wait to be computed with later epochs' (see the module's doc), timed by ``clock``."""

    clock = staticmethod(time.perf_counter)

    def __init__(self, vanish_ratio: float = 1e-3, explode_norm: float = 1e3, dead_fraction: float = 0.5,
                 every: int = 16, warn: bool = True, latency: float = 0.5):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"TrainingHealth: every must be a positive integer, got {every!r}")
        if not latency >= 0:
            raise ValueError(f"TrainingHealth: latency must be a number of seconds >= 0, got {latency!r}")
        self.vanish_ratio, self.explode_norm, self.dead_fraction = vanish_ratio, explode_norm, dead_fraction
        self.every, self.warn, self.latency = every, warn, latency
        self._history: dict = {}
        self._columns: dict = {}  # (layer, quantity) -> its list in _history
        self._unread = False  # some records are still _Pending
        self.kinds: dict = {}  # layer -> 'relu', 'sigmoid', 'tanh', 'activation' or 'weight'
        self.warnings: list = []
        self._given, self._handles, self._watched = set(), [], []
        self._sampling = self._sampled = False  # this batch's forward pass is watched / its step is measured
        self._outputs: list = []  # (layer, kind, output array) of the sampled forward pass, from the hooks
        self._epoch, self._update, self._pending = None, None, []  # epochs ended, their small tensors not summed
        self._waiting = 0.0  # when the first pending epoch ended
        self._held = 0  # values copied and not yet summed
        self.flushes = 0  # how many times the pending epochs were summed

    # -- hooks of fit ---------------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict) -> None:
        model = self.state.model
        self.state.history.health = self
        self._weights = _weight_layers(model)
        self.kinds.update({name: "weight" for name, _ in self._weights})
        self._watched, self._first_epoch = [], logs.get("initial_epoch", 0)
        self._batches = _length(getattr(self.state, "loader", None))  # per epoch, when the loader knows
        for name, module in model.named_modules():
            kind = next((k for cls, k in KINDS if isinstance(module, cls)), None)
            if kind is not None:
                self._watched.append((module, self._hook(name or type(module).__name__, kind)))
                self.kinds[name or type(module).__name__] = kind
        self._segments = [(name, p, (_GRAD, name, None, p.array.size), (_OLD, name, None, p.array.size))
                          for name, p in self._weights]  # (with what _sum is told of each copied tensor)
        self._small = [p for _, p in self._weights if 0 < p.array.size <= SMALL]  # (their update: in one copy)
        self._olds = [(_OLD, name, None, p.array.size) for name, p in self._weights if 0 < p.array.size <= SMALL]
        self._news = [(_NEW, name, None, p.array.size) for name, p in self._weights if 0 < p.array.size <= SMALL]
        self._check_symmetry(self._warn)

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        self._epoch = _Epoch(epoch)
        self._update, self._outputs = True, []  # the update ratio is measured on the epoch's first step
        self._attach()  # the epoch's first batch is always sampled

    def on_before_backward(self, logs: dict) -> None:
        if self._sampling:  # (most steps are not sampled: they return at once)
            self._sampled, self._sampling = True, False
            self._detach()  # the sampled forward pass is over

    def on_before_optimizer_step(self, logs: dict) -> None:
        if self._sampled:
            self._gather()

    def on_batch_end(self, step: int, logs: dict) -> None:
        if self._sampled:
            self._sampled = False
            if self._update is not None and self._update is not True:
                self._updated()
            if self._held > MAX_HELD:  # (many small tensors sampled often: sum what this epoch holds now)
                self._sum_samples(self._pending + [self._epoch])
        if (step + 1) % self.every == 0 and step + 1 != self._batches:
            self._attach()  # the next batch's forward pass is sampled (unless this batch was the epoch's last)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._detach()
        self._sampling, self._outputs = False, []
        current, self._epoch = self._epoch, None
        if current is None:
            return
        if epoch == self._first_epoch:  # symmetric units stay symmetric: checked at the start and once more here
            self._check_symmetry(lambda *warning: current.symmetric.append(warning))
        self._pending.append(current)
        now = self.clock()
        if len(self._pending) == 1:
            self._waiting = now
        if len(self._pending) >= MAX_PENDING or now - self._waiting >= self.latency:
            self._flush()

    def on_train_end(self, logs: dict) -> None:
        self._detach()
        self._sampling, self._outputs = False, []
        self._flush()

    @property
    def history(self) -> dict:
        """{layer: {quantity: one value per epoch}}; ``*_quantiles``: a list of ``QUANTILES`` per epoch."""
        self._flush()
        if self._unread:  # the quantiles are computed now, from the values kept
            for records in self._history.values():
                for values in records.values():
                    for i, v in enumerate(values):
                        if isinstance(v, _Pending):
                            values[i] = v.compute(*v.args)
            self._unread = False
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
        self._columns = {}
        self.kinds.update(state.get("kinds", {}))
        self.warnings = list(state.get("warnings", []))
        self._given = {tuple(g) for g in state.get("given", [])}

    # -- a sampled step -------------------------------------------------------------------------------------------
    def _gather(self) -> None:
        """Before the optimizer's step: a large tensor's sums are taken now; the small ones (at most ``SMALL``
        values: activations, gradients, on the epoch's first step the weights) are copied in one call, to be
        summed with other epochs' in ``_flush``."""
        epoch, small, what = self._epoch, [], []
        acts = epoch.acts
        for name, kind, a in self._outputs:
            layer = acts.get(name)
            if layer is None:
                layer = acts[name] = _Layer(kind)
            if a.size > SMALL:
                _add_activation(layer, a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1))
            elif a.size:
                small.append(a)
                what.append((_ACT, name, a.shape, a.size))
        self._outputs = []
        for name, p, grad, _ in self._segments:
            if p.grad is not None:
                g = p.grad.array
                if g.size > SMALL:
                    _add_gradient(epoch, name, _flat(g))
                elif g.size:
                    small.append(g)
                    what.append(grad)
        if self._update is True:  # the weights before the update: the copy's last values
            self._update = [(name, p, p.array.copy()) for name, p in self._weights if p.array.size > SMALL]
            small += [p.array for p in self._small]
            what += self._olds
        if small:
            epoch.samples.append([np.concatenate(small, axis=None), what, None])
            self._held += epoch.samples[-1][0].size

    def _updated(self) -> None:
        """After the epoch's first update: its size, relative to the weights', at once for large weights; the
        small weights after it are copied, to be compared with the copy from before."""
        epoch, large, self._update = self._epoch, self._update, None
        for name, p, old in large:
            epoch.ratios[name] = _norm(p.array - old) / (_norm(old) or 1.0)
        if self._small and epoch.samples and epoch.samples[-1][1][-1][0] == _OLD:
            epoch.samples[-1][2] = np.concatenate([p.array for p in self._small], axis=None)

    # -- the epochs' statistics -----------------------------------------------------------------------------------
    def _flush(self) -> None:
        """The statistics of the pending epochs' small tensors, all in one buffer (one reduction gives every sum
        and sum of squares), then each epoch's records and warnings, in order."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._sum_samples(pending)
        for epoch in pending:
            self._close(epoch)
        self.flushes += 1

    def _sum_samples(self, epochs: list) -> None:
        """Sum the small tensors the epochs hold: one buffer of their values and squares, one reduction."""
        pieces, segments, owners = [], [], []  # segment: (what, layer, shape, size) of the epoch in owners
        news = self._news
        for epoch in epochs:
            for values, what, after in epoch.samples:
                pieces.append(values)
                segments += what
                owners += [epoch] * len(what)
                if after is not None:  # the update: the weights after it less those before (the copy's last values)
                    pieces.append(after - values[values.size - after.size:])
                    segments += news
                    owners += [epoch] * len(news)
            epoch.samples = []
        if segments:
            self._sum(pieces, segments, owners)
        self._held = 0

    def _sum(self, pieces: list, segments: list, epochs: list) -> None:
        sizes = [segment[3] for segment in segments]
        values = np.empty((2, sum(sizes)))  # float64: the values, then their squares
        np.concatenate(pieces, out=values[0])
        np.multiply(values[0], values[0], out=values[1])
        starts = list(itertools.accumulate(sizes[:-1], initial=0))
        sums, squares = np.add.reduceat(values, starts, axis=1).tolist()
        kinds = set(self.kinds.values())
        if "tanh" in kinds:  # |a| > 0.99 exactly as a² > 0.99² (float32 values square exactly in float64)
            tanh = np.add.reduceat(values[1] > TANH_SATURATED, starts).tolist()
        if "sigmoid" in kinds:
            sigmoid = np.add.reduceat((values[0] < SIGMOID_SATURATED[0]) | (values[0] > SIGMOID_SATURATED[1]),
                                      starts).tolist()
        pools, owners, befores, sqrt, row = [], [], [], math.sqrt, values[0]
        for i, ((what, name, shape, size), epoch) in enumerate(zip(segments, epochs)):
            if what == _GRAD:
                epoch.grads.setdefault(name, []).append(sqrt(squares[i]))
                owners.append(epoch.grad_pools.setdefault(name, []))
            elif what == _ACT:
                layer = epoch.acts[name]
                layer.count += size
                layer.total += sums[i]
                layer.squares += squares[i]
                if layer.kind == "relu":
                    rows = row[starts[i]:starts[i] + size]
                    _add_units(layer, rows.reshape(shape[0] if len(shape) > 1 else 1, -1).sum(axis=0))
                elif layer.kind in SATURATING:
                    layer.saturated += tanh[i] if layer.kind == "tanh" else sigmoid[i]
                owners.append(layer.pools)
            elif what == _OLD:
                befores.append(sqrt(squares[i]))
                continue
            else:  # (a sample's _NEW segments follow its _OLD ones, the weights in the same order)
                epoch.ratios[name] = sqrt(squares[i]) / (befores.pop(0) or 1.0)
                continue
            pools.append(row[starts[i]:starts[i] + size:max(1, size // POOL)])
        if pools:  # one copy (in the tensors' float32) keeps them; the buffer goes
            kept = np.concatenate(pools, dtype=np.float32)
            start = 0
            for pool, owner in zip(pools, owners):
                owner.append(kept[start:start + pool.size])
                start += pool.size

    def _close(self, epoch: _Epoch) -> None:
        """One epoch's records and warnings."""
        for name, _ in self._weights:
            if name in epoch.ratios:
                self._record(name, "update_ratio", epoch.ratios[name])
        for name, layer in epoch.acts.items():
            if not layer.count:
                continue
            mean = layer.total / layer.count
            self._record(name, "activation_mean", mean)
            self._record(name, "activation_std", math.sqrt(max(layer.squares / layer.count - mean * mean, 0.0)))
            self._record(name, "activation_quantiles", _Pending(_quantiles, layer.pools))
            self._unread = True
            if layer.kind == "relu":
                dead = 1.0 - np.count_nonzero(layer.units) / layer.units.size  # (a sum of outputs >= 0 is 0 when dead)
                self._record(name, "dead_fraction", dead)
                if dead > self.dead_fraction:
                    self._warn("dead", name, f"{dead:.0%} of the ReLU units of layer {name!r} are dead (never "
                                             "positive in an epoch): they pass no gradient; try a smaller learning "
                                             "rate, LeakyReLU or another initialisation")
            elif layer.kind in SATURATING:
                self._record(name, "saturated_fraction", layer.saturated / layer.count)
        norms = {}
        for name, _ in self._weights:
            values = epoch.grads.get(name)
            if values:
                norms[name] = sum(values) / len(values)  # (plain Python: a NumPy call costs more on a short list)
                self._record(name, "grad_norm", norms[name])
                self._record(name, "grad_quantiles", _Pending(_quantiles, epoch.grad_pools[name]))
                self._unread = True
                if not math.isfinite(norms[name]) or norms[name] > self.explode_norm:
                    self._warn("explode", name, f"gradients explode in layer {name!r}: mean norm {norms[name]:.3g} "
                                                "(clip them with clip_grad_norm= or lower the learning rate)")
        if len(norms) >= 2:
            first, last = list(norms)[0], list(norms)[-1]
            if norms[first] < self.vanish_ratio * norms[last]:
                self._warn("vanish", first, f"gradients vanish: layer {first!r} gets a gradient norm of "
                                            f"{norms[first]:.3g}, {norms[first] / norms[last]:.1e} times that of "
                                            f"layer {last!r}; it barely learns (ReLU, normalisation or a "
                                            "shallower network help)")
        for warning in epoch.symmetric:
            self._warn(*warning)

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
            if module.training:  # (validation batches do not count)
                self._outputs.append((name, kind, output.array))
        return hook

    def _check_symmetry(self, warn) -> None:
        for name, p in self._weights:
            w = p.array.reshape(p.shape[0], -1)
            if w.shape[0] > 1 and np.array_equal(w.max(axis=0), w.min(axis=0)):
                warn("symmetric", name, f"the {w.shape[0]} units of layer {name!r} are identical (all rows of its "
                                        "weight are equal): they get identical gradients and stay identical; "
                                        "initialise the weights randomly")

    def _record(self, layer: str, quantity: str, value) -> None:
        column = self._columns.get((layer, quantity))
        if column is None:
            column = self._columns[layer, quantity] = self._history.setdefault(layer, {}).setdefault(quantity, [])
        column.append(value)

    def _warn(self, kind: str, layer: str, message: str) -> None:
        if (kind, layer) not in self._given:
            self._given.add((kind, layer))
            self.warnings.append(message)
            if self.warn:
                warnings.warn(message, RuntimeWarning, stacklevel=2)


def _add_activation(layer: _Layer, a: np.ndarray) -> None:
    """A large activation's sums, at once (``a``: batch × units)."""
    flat = _flat(a)
    layer.count += flat.size
    layer.squares += float(np.dot(flat, flat))
    layer.pools.append(_subsample(flat))
    if layer.kind == "relu":
        units = a.sum(axis=0)
        layer.total += float(units.sum())
        _add_units(layer, units)
        return
    layer.total += float(flat.sum())
    if layer.kind == "sigmoid":
        layer.saturated += int(np.count_nonzero((a < 0.01) | (a > 0.99)))
    elif layer.kind == "tanh":
        layer.saturated += int(np.count_nonzero(np.abs(a) > 0.99))


def _add_units(layer: _Layer, units: np.ndarray) -> None:
    if layer.units is None:
        layer.units = units
    elif layer.units.shape == units.shape:  # (a batch of another shape is not counted for dead units)
        layer.units = layer.units + units


def _add_gradient(epoch: _Epoch, name: str, g: np.ndarray) -> None:
    epoch.grads.setdefault(name, []).append(math.sqrt(float(np.dot(g, g))))
    epoch.grad_pools.setdefault(name, []).append(_subsample(g))


def _length(loader):
    """Batches per epoch, or None when the loader cannot tell."""
    try:
        return len(loader)
    except TypeError:
        return None


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
