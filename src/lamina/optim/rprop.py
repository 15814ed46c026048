"""Rprop: resilient backpropagation, per-coordinate step sizes driven by the sign of the gradient, as torch."""

from __future__ import annotations

import numbers

import numpy as np

from lamina.optim.optimizer import Optimizer, check_foreach, check_range


class Rprop(Optimizer):
    """``Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, foreach=None, maximize=False)``"""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, foreach=None, maximize=False):
        check_foreach("Rprop", foreach)
        check_range("Rprop", "lr", lr)
        for name, pair in (("etas", etas), ("step_sizes", step_sizes)):
            if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                    or not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in pair)):
                raise ValueError(f"Rprop: {name} must be a pair of numbers, got {pair!r}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid etas={tuple(etas)}; they must be (etaminus, etaplus) with "
                             "0 < etaminus < 1 < etaplus")
        defaults = dict(lr=lr, etas=tuple(float(e) for e in etas), step_sizes=tuple(float(s) for s in step_sizes),
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """Each coordinate's step size grows by η₊ while g keeps its sign and shrinks by η₋ when it flips
        (clamped to ``step_sizes``); p ← p − sign(g)·step_size, except that after a flip the coordinate
        stays put and its g counts as 0 at the next step.
        """
        if not state:
            state["step"] = 0
            state["prev"] = np.zeros_like(param)
            state["step_size"] = np.full_like(param, float(group["lr"]))
        etaminus, etaplus = (float(e) for e in group["etas"])
        step_size_min, step_size_max = (float(s) for s in group["step_sizes"])
        state["step"] += 1
        g = self._direction(param, grad, 0, group["maximize"])
        prev, step_size = state["prev"], state["step_size"]
        factor = self._scratch(param)

        np.multiply(g, prev, out=factor)
        same_sign, flipped = factor > 0, factor < 0
        factor.fill(1)  # sign(g·prev) → η₊, η₋, or 1 where either is 0
        factor[same_sign] = etaplus
        factor[flipped] = etaminus
        step_size *= factor
        np.clip(step_size, step_size_min, step_size_max, out=step_size)
        np.copyto(prev, g)  # after a flip, g counts as 0: no move now, no sign comparison next step
        prev[flipped] = 0
        np.sign(prev, out=factor)
        factor *= step_size
        param -= factor
