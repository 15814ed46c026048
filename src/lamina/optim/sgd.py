"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay as torch.optim.SGD."""

from __future__ import annotations

import numpy as np

from lamina.optim.optimizer import Optimizer, check_range


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)``"""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            check_range("SGD", name, value)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0 (got momentum={momentum}, "
                             f"dampening={dampening})")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """g ← ±∇ + λp;  b ← μb + (1−τ)g (b = g at the first step);  d = g + μb (Nesterov) or b;  p ← p − η·d.

        With momentum μ = 0 this is plain gradient descent p ← p − η·g, and no state is kept.
        """
        lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
        g = self._direction(param, grad, group["weight_decay"], group["maximize"])
        step = self._scratch(param)
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= momentum
                if dampening:
                    np.multiply(g, 1 - dampening, out=step)
                    buf += step
                else:
                    buf += g
            if group["nesterov"]:
                np.multiply(buf, momentum, out=step)
                step += g
                g = step
            else:
                g = buf
        np.multiply(g, lr, out=step)
        param -= step
