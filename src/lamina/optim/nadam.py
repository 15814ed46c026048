"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule, as torch.optim.NAdam."""

from __future__ import annotations

import numpy as np

from lamina.optim.adam import update_moments
from lamina.optim.optimizer import Optimizer, check_betas, check_foreach, check_range, decoupled_decay


class NAdam(Optimizer):
    """``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, *, foreach=None, maximize=False)``"""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False):
        check_foreach("NAdam", foreach)
        for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay),
                            ("momentum_decay", momentum_decay)):
            check_range("NAdam", name, value)
        defaults = dict(lr=lr, betas=check_betas("NAdam", betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """μₜ = β₁(1 − ½·0.96^(tψ)) (ψ = momentum_decay), Πₜ = μ₁⋯μₜ (``mu_product``);
        m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  s = √(v/(1−β₂ᵗ)) + ε;
        p ← p − η(1−μₜ)/(1−Πₜ) · g/s − η·μₜ₊₁/(1−Πₜμₜ₊₁) · m/s.

        Weight decay λ: L2 (adds λp to g), or with ``decoupled_weight_decay`` p ← p·(1 − ηλ) first.
        """
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        lr, weight_decay, psi = float(group["lr"]), float(group["weight_decay"]), float(group["momentum_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state["step"] += 1
        t = state["step"]
        weight_decay = decoupled_decay(param, lr, weight_decay, group["decoupled_weight_decay"])
        g = self._direction(param, grad, weight_decay, group["maximize"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = state["mu_product"] = state["mu_product"] * mu
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp, step = self._scratch(param), self._scratch(param, 2)

        update_moments(m, v, g, beta1, beta2, tmp)  # m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
        np.divide(v, 1 - beta2**t, out=tmp)  # s = √v̂ + ε
        np.sqrt(tmp, out=tmp)
        tmp += float(group["eps"])
        np.divide(g, tmp, out=step)  # the gradient's part of the Nesterov step
        step *= lr * (1 - mu) / (1 - mu_product)
        param -= step
        np.divide(m, tmp, out=step)  # the momentum's part, looking one step ahead
        step *= lr * mu_next / (1 - mu_product * mu_next)
        param -= step
