"""Adamax: Adam with the infinity norm in place of the second moment, as torch.optim.Adamax."""

from __future__ import annotations

import numpy as np

from lamina.optim.optimizer import Optimizer, check_betas, check_foreach, check_range


class Adamax(Optimizer):
    """``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *, maximize=False)``"""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False):
        check_foreach("Adamax", foreach)
        for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            check_range("Adamax", name, value)
        defaults = dict(lr=lr, betas=check_betas("Adamax", betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  p ← p − (η/(1−β₁ᵗ))·m/u.

        u (``exp_inf``) is an exponentially decaying maximum of |g|: the limit p → ∞ of Adam's
        (β₂v + (1−β₂)|g|ᵖ)^(1/p), which needs no bias correction.
        """
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_inf"] = np.zeros_like(param)
        beta1, beta2 = (float(b) for b in group["betas"])
        state["step"] += 1
        t = state["step"]
        g = self._direction(param, grad, group["weight_decay"], group["maximize"])
        m, u = state["exp_avg"], state["exp_inf"]
        tmp = self._scratch(param)

        np.multiply(g, 1 - beta1, out=tmp)  # m ← β₁m + (1−β₁)g
        m *= beta1
        m += tmp
        np.abs(g, out=tmp)  # u ← max(β₂u, |g| + ε)
        tmp += float(group["eps"])
        u *= beta2
        np.maximum(u, tmp, out=u)
        np.divide(m, u, out=tmp)
        tmp *= float(group["lr"]) / (1 - beta1**t)
        param -= tmp
