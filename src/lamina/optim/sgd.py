"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay as torch.optim.SGD."""

from __future__ import annotations

import numpy as np

from lamina import kernels
from lamina.optim.optimizer import Optimizer, check_fused, check_range


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False, fused=None)``

    ``fused`` None or True runs the one-pass kernel of lamina.kernels on float32 arrays; False the NumPy code.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, fused=None):
        check_fused("SGD", fused)
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            check_range("SGD", name, value)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0 (got momentum={momentum}, "
                             f"dampening={dampening})")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        """g ← ±∇ + λp;  b ← μb + (1−τ)g (b = g at the first step);  d = g + μb (Nesterov) or b;  p ← p − η·d.

        With momentum μ = 0 this is plain gradient descent p ← p − η·g, and no state is kept.
        """
        lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
        if group.get("fused") is not False and kernels.usable(param, grad):
            buf = state.get("momentum_buffer")
            first = buf is None
            if momentum and first:
                buf = state["momentum_buffer"] = np.zeros_like(param)
            kernels.sgd_step(param, grad, buf, lr, momentum, dampening,
                            float(group["weight_decay"]), bool(group["nesterov"]), bool(group["maximize"]), first)
            return
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
