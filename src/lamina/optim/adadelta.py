"""Adadelta (Zeiler, 2012): step sizes from running averages of squared gradients and squared updates, as torch."""

from __future__ import annotations

import numpy as np

from lamina.optim.optimizer import Optimizer, check_foreach, check_range


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, maximize=False)``"""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, maximize=False):
        check_foreach("Adadelta", foreach)
        for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            check_range("Adadelta", name, value)
        check_range("Adadelta", "rho", rho, 0.0, 1.0, closed=True)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """v ← ρv + (1−ρ)g²;  Δ = g·√(u + ε)/√(v + ε);  u ← ρu + (1−ρ)Δ²;  p ← p − η·Δ.

        v (``square_avg``) averages the squared gradients, u (``acc_delta``) the squared updates, so the
        step Δ has the units of p: the ratio of their root means rescales g.
        """
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            state["acc_delta"] = np.zeros_like(param)
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        state["step"] += 1
        g = self._direction(param, grad, group["weight_decay"], group["maximize"])
        v, u = state["square_avg"], state["acc_delta"]
        tmp, delta = self._scratch(param), self._scratch(param, 2)

        np.multiply(g, 1 - rho, out=tmp)  # v ← ρv + (1−ρ)g²
        tmp *= g
        v *= rho
        v += tmp
        np.add(u, eps, out=delta)  # Δ = g·√(u + ε)/√(v + ε)
        np.sqrt(delta, out=delta)
        np.add(v, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        delta /= tmp
        delta *= g
        np.multiply(delta, 1 - rho, out=tmp)  # u ← ρu + (1−ρ)Δ²
        tmp *= delta
        u *= rho
        u += tmp
        delta *= lr
        param -= delta
