"""The inference fast path of MultiheadAttention (self-attention) and TransformerEncoderLayer, as PyTorch has one
for eval mode: when no gradient is needed and no dropout is active, the layer computes on NumPy arrays with few
calls instead of building the graph op by op: one fused Q/K/V product from ``in_proj_weight``, one batched
matmul for the scores of all heads and one for their outputs, the softmax in place, each LayerNorm in a few
whole-array expressions, each Linear as one GEMM over all rows. It gives the graph path's values to float32
rounding (tests/nn/test_nn_fast_attention.py); training keeps the graph path.

``self_attention_array`` and ``encoder_layer_array`` work on batch-first (N, L, E) arrays; ``attention_mask``
turns the modules' masks (boolean True = masked out, or float to add) into one additive array, or reports
(``None`` from ``eligible_masks``) that the fast path must not run, in which case the graph path checks the
input and raises its usual error.
"""

from __future__ import annotations

import math

import numpy as np

from lamina.autograd.grad_mode import is_grad_enabled
from lamina.tensor import Tensor, from_numpy

_NO_MASK = np.empty(0)  # eligible_masks' "no mask" (None there means "not eligible")


def needs_graph(module, *inputs: Tensor) -> bool:
    """True when a forward of ``module`` on ``inputs`` must record the graph: grad mode on and an input or one of
    the module's parameters requires grad."""
    if not is_grad_enabled():
        return False
    return any(t is not None and t.requires_grad for t in inputs) or any(p.requires_grad for p in
                                                                        module.parameters())


def submodule_hooks(module) -> bool:
    """True when a submodule of ``module`` has a hook (the fast path would skip the submodules' calls; the
    module's own hooks run around its forward as always)."""
    stack = list(module._modules.values())
    while stack:
        m = stack.pop()
        if m is not None:
            if m._forward_pre_hooks or m._forward_hooks or m._backward_hooks:
                return True
            stack.extend(m._modules.values())
    return False


def to_batch_first(x: np.ndarray, batch_first: bool) -> np.ndarray:
    """A (L, E), (L, N, E) or (N, L, E) input as (N, L, E) (a view)."""
    if x.ndim == 2:
        return x[None]
    return x if batch_first else x.transpose(1, 0, 2)


def from_batch_first(out: np.ndarray, ndim: int, batch_first: bool) -> Tensor:
    """The (N, L, E) result back in the input's layout, as a graph-free tensor."""
    if ndim == 2:
        return from_numpy(out[0])
    return from_numpy(out if batch_first else np.ascontiguousarray(out.transpose(1, 0, 2)))


def _as_array(mask):
    return mask.array if isinstance(mask, Tensor) else np.asarray(mask)


def eligible_masks(attn_mask, key_padding_mask, batch: int, heads: int, length: int, dtype, batched: bool):
    """One additive mask broadcastable to the scores (N, H, L, L), ``_NO_MASK`` for none, or None when the masks
    are not the well-formed kinds the fast path takes (the graph path then checks them and raises)."""
    total = None
    if attn_mask is not None:
        m = _as_array(attn_mask)
        if m.dtype != np.bool_ and m.dtype != dtype:
            return None
        if m.shape == (length, length):
            pass
        elif m.ndim == 3 and m.shape == (batch * heads, length, length):
            m = m.reshape(batch, heads, length, length)
        else:
            return None
        total = np.where(m, np.asarray(-np.inf, dtype), np.asarray(0, dtype)) if m.dtype == np.bool_ else m
    if key_padding_mask is not None:
        m = _as_array(key_padding_mask)
        if m.dtype != np.bool_ and m.dtype != dtype:
            return None
        if m.shape != ((batch, length) if batched else (length,)):
            return None
        m = np.where(m, np.asarray(-np.inf, dtype), np.asarray(0, dtype)) if m.dtype == np.bool_ else m
        m = m.reshape(batch, 1, 1, length)
        total = m if total is None else total + m
    return _NO_MASK if total is None else total


def _linear(x2d: np.ndarray, weight: np.ndarray, bias) -> np.ndarray:
    out = x2d @ weight.T
    if bias is not None:
        out += bias
    return out


def self_attention_array(x: np.ndarray, heads: int, in_w: np.ndarray, in_b, out_w: np.ndarray, out_b,
                         mask) -> np.ndarray:
    """Multi-head self-attention of x (N, L, E) with PyTorch's packed weights, no dropout: (N, L, E).

    ``mask``: an additive array broadcastable to (N, heads, L, L), or ``_NO_MASK``. A query whose keys are all
    masked out gets zero output (the graph path's safe softmax)."""
    n, length, e = x.shape
    d = e // heads
    qkv = _linear(x.reshape(n * length, e), in_w, in_b).reshape(n, length, 3, heads, d).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * np.asarray(1.0 / math.sqrt(d), x.dtype), qkv[1], qkv[2]
    scores = q @ k.transpose(0, 1, 3, 2)  # (N, H, L, L)
    if mask is not _NO_MASK:
        scores += mask
    top = scores.max(axis=-1, keepdims=True)
    dead = None
    if mask is not _NO_MASK:
        dead = top == -np.inf
        if dead.any():
            top[dead] = 0
        else:
            dead = None
    scores -= top
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    if dead is not None:
        total[dead] = 1  # an all-masked row: exp gave zeros everywhere, the output stays zero
    scores /= total
    out = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, e)
    return _linear(out, out_w, out_b).reshape(n, length, e)


def layer_norm_array(x: np.ndarray, norm) -> np.ndarray:
    """A LayerNorm module's forward over the last dim of x, on arrays."""
    e = x.shape[-1]  # the mean as np.mean takes it (a float32 sum, then / e), without its Python wrapper
    centred = x - np.add.reduce(x, axis=-1, keepdims=True) / e
    var = np.add.reduce(centred * centred, axis=-1, keepdims=True) / e
    centred *= 1 / np.sqrt(var + np.asarray(norm.eps, x.dtype))
    weight, bias = param_array(norm, "weight"), param_array(norm, "bias")
    if weight is not None:
        centred *= weight
    if bias is not None:
        centred += bias
    return centred


def param_array(module, name: str):
    """The array of the module's parameter ``name``, or None (read from its store: no attribute lookup)."""
    p = module._parameters.get(name)
    return None if p is None else p.array


def encoder_layer_array(x: np.ndarray, mask, attn, lin1, lin2, norm1, norm2, norm_first: bool,
                        activation) -> np.ndarray:
    """A TransformerEncoderLayer's forward on x (N, L, E) without dropout, from its submodules; ``activation``
    None is ReLU (in place), any other runs on a graph-free tensor."""
    n, length, e = x.shape
    weights = (attn.num_heads, param_array(attn, "in_proj_weight"), param_array(attn, "in_proj_bias"),
               param_array(attn._modules["out_proj"], "weight"), param_array(attn._modules["out_proj"], "bias"))

    def feed_forward(h):
        hidden = _linear(h.reshape(n * length, e), param_array(lin1, "weight"), param_array(lin1, "bias"))
        if activation is None:
            np.maximum(hidden, 0, out=hidden)
        else:
            hidden = activation(from_numpy(hidden)).array
        return _linear(hidden, param_array(lin2, "weight"), param_array(lin2, "bias")).reshape(n, length, e)

    if norm_first:
        x = x + self_attention_array(layer_norm_array(x, norm1), *weights, mask)
        return x + feed_forward(layer_norm_array(x, norm2))
    x = layer_norm_array(x + self_attention_array(x, *weights, mask), norm1)
    return layer_norm_array(x + feed_forward(x), norm2)
