"""Adam and AdamW (decoupled weight decay), as torch.optim.Adam / torch.optim.AdamW.

The update runs in place on float32 arrays: two running moments per parameter and one reused
scratch buffer, 12 full-array passes per step (13 with amsgrad, +1 for AdamW's decay).
"""

from __future__ import annotations

import math

import numpy as np

from lamina import kernels
from lamina.optim.optimizer import Optimizer, check_betas, check_fused, check_range, decoupled_decay


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False)``"""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, fused=None):
        name = type(self).__name__
        check_fused(name, fused)
        for option, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            check_range(name, option, value)
        defaults = dict(lr=lr, betas=check_betas(name, betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                        fused=fused)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − α·m̂/(√v̂ + ε)  with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).

        Weight decay λ: Adam adds λp to g (L2); AdamW first shrinks p ← p·(1 − αλ) (decoupled).
        amsgrad normalises by the running maximum of v instead of v.
        """
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = group["betas"]
        beta1, beta2 = float(beta1), float(beta2)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if group.get("fused") is not False and kernels.usable(param, grad):
            vmax = state["max_exp_avg_sq"] if group["amsgrad"] else None
            kernels.adam_step(param, grad, m, v, vmax, lr, beta1, beta2, eps, weight_decay, t,
                             bool(group["decoupled_weight_decay"]), bool(group["maximize"]))
            return
        weight_decay = decoupled_decay(param, lr, weight_decay, group["decoupled_weight_decay"])
        g = self._direction(param, grad, weight_decay, group["maximize"])
        tmp = self._scratch(param)

        update_moments(m, v, g, beta1, beta2, tmp)  # m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])

        # α·m̂/(√v̂ + ε) = (α/b₁)·√b₂ · m/(√v + ε√b₂)   with b₁ = 1−β₁ᵗ, b₂ = 1−β₂ᵗ
        sqrt_b2 = math.sqrt(1 - beta2**t)
        np.sqrt(v, out=tmp)
        tmp += eps * sqrt_b2
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - beta1**t) * sqrt_b2
        param -= tmp


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False)``"""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, fused=fused)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW is always decoupled, whatever the loaded dict says
            group["decoupled_weight_decay"] = True


def update_moments(m, v, g, beta1, beta2, tmp) -> None:
    """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g², in place (tmp: scratch of g's shape). Adam, NAdam and RAdam."""
    np.multiply(g, 1 - beta1, out=tmp)
    m *= beta1
    m += tmp
    np.multiply(g, 1 - beta2, out=tmp)
    tmp *= g
    v *= beta2
    v += tmp
