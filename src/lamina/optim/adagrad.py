"""Adagrad: per-coordinate step sizes from the sum of all squared gradients so far, as torch.optim.Adagrad."""

from __future__ import annotations

import numpy as np

from lamina.optim.optimizer import Optimizer, check_range


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10)``"""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        for name, value in (("lr", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value), ("eps", eps)):
            check_range("Adagrad", name, value)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:  # as torch, the state exists from the start
            for p in group["params"]:
                self._init_state(self.state[p], p.array, group)

    @staticmethod
    def _init_state(state, param, group):
        state["step"] = 0
        state["sum"] = np.full_like(param, group["initial_accumulator_value"])

    def _update(self, param, grad, state, group):
        """s ← s + g²;  p ← p − η_t·g/(√s + ε)  with η_t = η/(1 + (t−1)·lr_decay)."""
        if not state:
            self._init_state(state, param, group)
        state["step"] += 1
        lr_t = float(group["lr"]) / (1 + (state["step"] - 1) * float(group["lr_decay"]))
        g = self._direction(param, grad, group["weight_decay"], group["maximize"])
        s = state["sum"]
        tmp = self._scratch(param)

        np.multiply(g, g, out=tmp)  # s ← s + g²
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += float(group["eps"])
        np.divide(g, tmp, out=tmp)
        tmp *= lr_t
        param -= tmp
