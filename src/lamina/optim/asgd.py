"""ASGD: SGD with a decaying step size and a running average of the iterates (Polyak-Ruppert), as torch."""

from __future__ import annotations

import math

import numpy as np

from lamina.optim.optimizer import Optimizer, check_foreach, check_range


class ASGD(Optimizer):
    """``ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False)``

    The averaged parameters are in ``optimizer.state[p]['ax']``; averaging starts after ``t0`` steps.
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False):
        check_foreach("ASGD", foreach)
        for name, value in (("lr", lr), ("weight_decay", weight_decay)):
            check_range("ASGD", name, value)
        for name, value in (("lambd", lambd), ("alpha", alpha), ("t0", t0)):  # torch sets no bounds on these
            check_range("ASGD", name, value, -math.inf)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """p ← p·(1 − λη) − η·g;  ā ← ā + μ(p − ā)  (ā = p while μ = 1);
        then η ← η₀/(1 + λη₀t)^α and μ ← 1/max(1, t − t₀) for the next step.
        """
        if not state:
            state["step"] = 0
            state["eta"] = float(group["lr"])
            state["mu"] = 1.0
            state["ax"] = np.zeros_like(param)
        lr, lambd = float(group["lr"]), float(group["lambd"])
        state["step"] += 1
        t = state["step"]
        g = self._direction(param, grad, group["weight_decay"], group["maximize"])
        eta, mu, ax = state["eta"], state["mu"], state["ax"]
        tmp = self._scratch(param)

        param *= 1 - lambd * eta  # decay
        np.multiply(g, eta, out=tmp)
        param -= tmp
        if mu != 1:  # ā ← ā + μ(p − ā)
            np.subtract(param, ax, out=tmp)
            tmp *= mu
            ax += tmp
        else:
            np.copyto(ax, param)
        state["eta"] = lr / (1 + lambd * lr * t) ** float(group["alpha"])
        state["mu"] = 1 / max(1, t - float(group["t0"]))
