"""RMSprop (Hinton's running average of squared gradients, optionally centered and with momentum), as torch."""

from __future__ import annotations

import numpy as np

from lamina.optim.optimizer import Optimizer, check_range


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False)``"""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        for name, value in (("lr", lr), ("alpha", alpha), ("eps", eps), ("momentum", momentum),
                            ("weight_decay", weight_decay)):
            check_range("RMSprop", name, value)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """v ← αv + (1−α)g²;  s = √(v − ḡ²) + ε with ḡ ← αḡ + (1−α)g if centered, else √v + ε;
        b ← μb + g/s and p ← p − η·b, or p ← p − η·g/s when μ = 0.
        """
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        lr, alpha, momentum = float(group["lr"]), float(group["alpha"]), float(group["momentum"])
        state["step"] += 1
        g = self._direction(param, grad, group["weight_decay"], group["maximize"])
        v = state["square_avg"]
        tmp = self._scratch(param)

        np.multiply(g, 1 - alpha, out=tmp)  # v ← αv + (1−α)g²
        tmp *= g
        v *= alpha
        v += tmp
        if group["centered"]:
            g_avg = state["grad_avg"]
            np.multiply(g, 1 - alpha, out=tmp)  # ḡ ← αḡ + (1−α)g
            g_avg *= alpha
            g_avg += tmp
            np.multiply(g_avg, g_avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += float(group["eps"])
        np.divide(g, tmp, out=tmp)  # g/s
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += tmp
            np.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        param -= tmp
