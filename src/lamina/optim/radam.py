"""RAdam (Liu et al., 2019): Adam with its adaptive step rectified while the variance estimate is unreliable."""

from __future__ import annotations

import math

import numpy as np

from lamina.optim.adam import update_moments
from lamina.optim.optimizer import Optimizer, check_betas, check_foreach, check_range, decoupled_decay


class RAdam(Optimizer):
    """``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *,
    foreach=None, maximize=False)``"""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False):
        check_foreach("RAdam", foreach)
        for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            check_range("RAdam", name, value)
        defaults = dict(lr=lr, betas=check_betas("RAdam", betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);
        ρ∞ = 2/(1−β₂) − 1,  ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ)  (the length of the approximated moving average);
        p ← p − η·m̂·r·√(1−β₂ᵗ)/(√v + ε) with r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)) when ρₜ > 5,
        else p ← p − η·m̂ (plain momentum while the variance is not yet tractable).

        Weight decay λ: L2 (adds λp to g), or with ``decoupled_weight_decay`` p ← p·(1 − ηλ) first.
        """
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        lr, weight_decay = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state["step"] += 1
        t = state["step"]
        weight_decay = decoupled_decay(param, lr, weight_decay, group["decoupled_weight_decay"])
        g = self._direction(param, grad, weight_decay, group["maximize"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = self._scratch(param)

        update_moments(m, v, g, beta1, beta2, tmp)  # m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²

        bias_correction1, bias_correction2 = 1 - beta1**t, 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            np.sqrt(v, out=tmp)
            tmp += float(group["eps"])
            np.divide(m, tmp, out=tmp)
            tmp *= lr / bias_correction1 * rect * math.sqrt(bias_correction2)
        else:
            np.multiply(m, lr / bias_correction1, out=tmp)
        param -= tmp
