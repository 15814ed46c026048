"""Optimizer: the base class that holds parameter groups and per-parameter state, as torch.optim.Optimizer.

A subclass implements ``_update(param, grad, state, group)`` on NumPy arrays, in place. The state is
plain data (NumPy arrays with the parameter's dtype, Python numbers) so checkpoints can store it
as safetensors + JSON; ``state_dict()`` uses torch's layout with parameters replaced by indices.
"""

from __future__ import annotations

import copy
import numbers
from collections import defaultdict

import numpy as np

from lamina import kernels
from lamina.autograd import zero_grad_
from lamina.autograd.grad_mode import enable_grad
from lamina.tensor import Tensor


def decoupled_decay(param, lr: float, weight_decay: float, decoupled: bool) -> float:
    """AdamW-style weight decay: with ``decoupled``, shrink p ← p·(1 − ηλ) in place and return 0 (no L2 term left
    for the gradient); otherwise return λ for the gradient's L2 term. Adam, NAdam and RAdam."""
    if weight_decay and decoupled:
        param *= 1 - lr * weight_decay
        return 0
    return weight_decay


def check_range(owner: str, name: str, value, low: float = 0.0, high: float | None = None, *,
                closed: bool = False) -> None:
    """Hyperparameter validation: ``value`` must be a number with low <= value (< high when given; <= high when
    ``closed``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if value < low or (high is not None and (value > high if closed else value >= high)):
        bound = f">= {low}" if high is None else f"in [{low}, {high}{']' if closed else ')'}"
        raise ValueError(f"{owner}: invalid {name}={value}; it must be {bound}")


def check_betas(owner: str, betas) -> tuple[float, float]:
    """Adam-style ``betas``: a pair of numbers, each in [0, 1); returned as a tuple of floats."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_range(owner, f"betas[{i}]", beta, 0.0, 1.0)
    return tuple(float(b) for b in betas)


def check_foreach(owner: str, foreach) -> None:
    """``foreach`` is accepted for PyTorch compatibility (None, True or False); lamina has one NumPy code path."""
    if foreach not in (None, True, False):
        raise TypeError(f"{owner}: foreach must be None, True or False, got {foreach!r}")


def check_fused(owner: str, fused) -> None:
    """``fused`` is None (use the one-pass kernels when numba is there), True (require numba) or False (the NumPy
    code). lamina.kernels.set_enabled(False) turns the kernels off whatever ``fused`` says."""
    if fused not in (None, True, False):
        raise TypeError(f"{owner}: fused must be None, True or False, got {fused!r}")
    if fused and not kernels.AVAILABLE:
        raise RuntimeError(f"{owner}: fused=True needs numba (pip install numba); use fused=None or False")


class Optimizer:
    """Base class: ``Optimizer(params, defaults)`` with params an iterable of Parameters or of dicts (groups)."""

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)  # Parameter -> {name: array or number}
        self.param_groups: list[dict] = []
        self._workspace: dict = {}  # (dtype, slot) -> flat scratch array reused across steps; not state
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params should be an iterable of Parameters or dicts, got a single Tensor; "
                "wrap it in a list: [param]"
            )
        groups = list(params) if not isinstance(params, (set, frozenset)) else [{"params": params}]
        if not groups:
            raise ValueError(f"{self._name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options; options it leaves out take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{self._name}: parameters must be in an ordered collection (list, tuple, generator), not a set: "
                "the order of a set changes between runs"
            )
        params = list(params)
        if params and all(isinstance(p, tuple) and len(p) == 2 for p in params):  # model.named_parameters()
            group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name} can only optimize Tensors, but parameter {i} is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self._name} can't optimize a non-leaf Tensor (parameter {i} has a grad_fn)")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self._name}: a parameter group contains the same parameter twice")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set every ``.grad`` to None (default) or fill it with zeros in place."""
        for group in self.param_groups:
            zero_grad_(group["params"], set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.array
                if grad.shape != p.array.shape:
                    raise ValueError(
                        f"{self._name}.step: a parameter of shape {p.array.shape} has a gradient of shape {grad.shape}"
                    )
                self._update(p.array, grad, self.state[p], group)
        return loss

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{self._name} must implement _update(param, grad, state, group)")

    # -- helpers for the updates ---------------------------------------------------------------
    def _scratch(self, like: np.ndarray, slot: int = 0) -> np.ndarray:
        """A temporary shaped like ``like``, carved out of a buffer reused by every step (no allocation)."""
        key = (like.dtype, slot)
        buf = self._workspace.get(key)
        if buf is None or buf.size < like.size:
            buf = self._workspace[key] = np.empty(like.size, like.dtype)
        return buf[: like.size].reshape(like.shape)

    def _direction(self, param, grad, weight_decay: float, maximize: bool) -> np.ndarray:
        """g = ±grad + λ·p (maximize flips the sign; λ is L2 weight decay); grad itself when neither applies."""
        if not weight_decay and not maximize:
            return grad
        g = self._scratch(param, 1)
        if weight_decay:
            np.multiply(param, float(weight_decay), out=g)
            (np.subtract if maximize else np.add)(g, grad, out=g)
        else:
            np.negative(grad, out=g)
        return g

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as torch.

        As in PyTorch the state arrays are the optimizer's own (not copies): save them, or deep-copy
        the dict, before the next step if you want a snapshot.
        """
        index: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if s and id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state from ``state_dict()`` output (arrays are copied into the parameters' dtype)."""
        where = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{where}: expected a dict with 'state' and 'param_groups' (from state_dict()), got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: the loaded state dict has {len(saved_groups)} parameter groups but this optimizer "
                f"has {len(self.param_groups)}"
            )
        by_index = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{where}: parameter group {i} of the loaded state dict has {len(saved['params'])} parameters "
                    f"but this optimizer's group {i} has {len(group['params'])}"
                )
            by_index.update(zip((int(k) for k in saved["params"]), group["params"]))
        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            index = int(key)  # JSON turns integer keys into strings
            if index not in by_index:
                raise ValueError(f"{where}: state for parameter {index}, which no parameter group lists")
            p = by_index[index]
            state[p] = {name: self._restore_entry(name, value, p, f"{where}: state '{name}' of parameter {index}")
                        for name, value in values.items()}
        self.state = state
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            for k, v in new.items():  # a JSON round trip turns tuples such as betas into lists
                if isinstance(group.get(k), tuple) and isinstance(v, list):
                    new[k] = tuple(v)
            new["params"] = group["params"]
            new_groups.append(new)
        self.param_groups = new_groups

    def _restore_entry(self, name: str, value, param: Tensor, what: str):
        """One loaded state entry as live state; a subclass whose state is not shaped like its parameter overrides
        this."""
        return _restore(value, param, what)

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _restore(value, param: Tensor, what: str):
    """A saved state entry as live state: arrays copied in the parameter's dtype and shape, scalars as numbers."""
    if isinstance(value, Tensor):
        value = value.array
    if isinstance(value, (bool, int, float)):
        return value
    arr = np.asarray(value)
    if arr.ndim == 0:
        return arr.item()
    if arr.shape != param.array.shape:
        raise ValueError(f"{what} has shape {arr.shape} but the parameter has shape {param.array.shape}")
    live = np.empty_like(param.array)  # in the parameter's memory order, as the state the optimizer makes itself
    np.copyto(live, arr, casting="unsafe")
    return live
