"""Normalisation layers as fused ops: one graph node each, with the closed-form backward."""

from __future__ import annotations

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function


class BatchNorm(Function):
    """y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + ε) per channel (axis 1), with μ, σ² given.
    Batch statistics (μ, σ² depend on x): dx = γ/√(σ² + ε)·(g − mean(g) − x̂·mean(g·x̂));
    fixed (running) statistics: dx = g·γ/√(σ² + ε). dγ = Σ g·x̂, dβ = Σ g over all axes but 1."""

    def forward(self, x, weight, bias, mean, var, eps, batch_stats):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        self.axes, self.shape, self.batch_stats = (0,) + tuple(range(2, x.ndim)), shape, batch_stats
        inv_std = (1 / np.sqrt(var + np.asarray(eps, var.dtype))).astype(x.dtype, copy=False)
        xhat = (x - mean.reshape(shape).astype(x.dtype, copy=False)) * inv_std.reshape(shape)
        out = xhat if weight is None else xhat * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
        self.save(xhat, inv_std, weight)
        return out

    def backward(self, g):
        xhat, inv_std, weight = self.saved
        axes, shape = self.axes, self.shape
        sum_g = g.sum(axis=axes) if self.needs[2] or (self.needs[0] and self.batch_stats) else None
        sum_gx = (g * xhat).sum(axis=axes) if self.needs[1] or (self.needs[0] and self.batch_stats) else None
        gx = None
        if self.needs[0]:
            scale = inv_std if weight is None else inv_std * weight
            if self.batch_stats:
                n = g.size // g.shape[1]
                gx = (g - (sum_g / n).reshape(shape) - xhat * (sum_gx / n).reshape(shape)) * scale.reshape(shape)
            else:
                gx = g * scale.reshape(shape)
        return gx, (sum_gx if self.needs[1] else None), (sum_g if self.needs[2] else None)


class LayerNorm(Function):
    """y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + ε) over the last k dims of each sample;
    dx = (1/√(σ² + ε))·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·γ; dγ = Σ g·x̂, dβ = Σ g over the leading dims."""

    def forward(self, x, weight, bias, k, eps):
        self.axes, self.lead = tuple(range(x.ndim - k, x.ndim)), tuple(range(x.ndim - k))
        mean = x.mean(axis=self.axes, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=self.axes, keepdims=True)
        inv_std = 1 / np.sqrt(var + np.asarray(eps, x.dtype))
        xhat = centred * inv_std
        out = xhat if weight is None else xhat * weight
        if bias is not None:
            out = out + bias
        self.save(xhat, inv_std, weight)
        return out

    def backward(self, g):
        xhat, inv_std, weight = self.saved
        gw = (g * xhat).sum(axis=self.lead) if self.needs[1] else None
        gb = g.sum(axis=self.lead) if self.needs[2] else None
        gx = None
        if self.needs[0]:
            gh = g if weight is None else g * weight
            gx = (gh - gh.mean(axis=self.axes, keepdims=True)
                  - xhat * np.mean(gh * xhat, axis=self.axes, keepdims=True)) * inv_std
        return gx, gw, gb


class LastDimLayerNorm(LayerNorm):
    """LayerNorm over the last dim of a float32 input with a weight and a bias, forward and backward each one
    kernel pass over the rows (kernels/norm.py; its checked entry point, nn.functional.layer_norm, picks it)"""

    def forward(self, x, weight, bias, k, eps):
        self.axes, self.lead = (x.ndim - 1,), tuple(range(x.ndim - 1))
        x2 = x.reshape(-1, x.shape[-1])
        out, xhat = np.empty_like(x), np.empty_like(x)
        inv_std = np.empty(x.shape[:-1] + (1,), dtype=x.dtype)
        kernels.layer_norm(x2, weight, bias, np.float32(eps), out.reshape(x2.shape), xhat.reshape(x2.shape),
                           inv_std.reshape(-1))
        self.save(xhat, inv_std, weight)
        return out

    def backward(self, g):
        if not kernels.fits(g):  # a gradient that is not C-contiguous float32, or the kernels switched off since
            return super().backward(g)
        xhat, inv_std, weight = self.saved
        g2 = g.reshape(-1, g.shape[-1])
        gx, gw, gb = np.empty_like(g), np.empty_like(weight), np.empty_like(weight)
        kernels.layer_norm_backward(g2, xhat.reshape(g2.shape), inv_std.reshape(-1), weight, gx.reshape(g2.shape),
                                    gw, gb)
        return (gx if self.needs[0] else None), (gw if self.needs[1] else None), (gb if self.needs[2] else None)

    @property
    def name(self) -> str:
        return "LayerNormBackward0"  # the same op in the graph; only its implementation differs


class GroupNorm(Function):
    """y = γ·x̂ + β per channel, x̂ = (x − μ)/√(σ² + ε) over each group of channels of each sample;
    dx = (1/√(σ² + ε))·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) within each group, ĝ = g·γ; dγ = Σ g·x̂, dβ = Σ g over all but 1"""

    def forward(self, x, weight, bias, groups, eps):
        n = x.shape[0]
        self.shape, self.groups = (1, -1) + (1,) * (x.ndim - 2), groups
        xg = x.reshape(n, groups, -1)
        centred = xg - xg.mean(axis=-1, keepdims=True)
        inv_std = 1 / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + np.asarray(eps, x.dtype))
        xhat = (centred * inv_std).reshape(x.shape)
        out = xhat if weight is None else xhat * weight.reshape(self.shape)
        if bias is not None:
            out = out + bias.reshape(self.shape)
        self.save(xhat, inv_std, weight)
        return out

    def backward(self, g):
        xhat, inv_std, weight = self.saved
        axes = (0,) + tuple(range(2, g.ndim))
        gw = (g * xhat).sum(axis=axes) if self.needs[1] else None
        gb = g.sum(axis=axes) if self.needs[2] else None
        gx = None
        if self.needs[0]:
            n = g.shape[0]
            gh = (g if weight is None else g * weight.reshape(self.shape)).reshape(n, self.groups, -1)
            xh = xhat.reshape(n, self.groups, -1)
            gx = ((gh - gh.mean(axis=-1, keepdims=True) - xh * np.mean(gh * xh, axis=-1, keepdims=True))
                  * inv_std).reshape(g.shape)
        return gx, gw, gb
