"""Checked entry points of attention: scaled_dot_product_attention and multi_head_attention_forward (re-exported
by lamina.nn.functional), composed from ordinary ops.

The mask conventions are PyTorch's, and they differ between the two (the trap that trips users):

- ``scaled_dot_product_attention``: a boolean ``attn_mask`` says where a query MAY attend (True = keep).
- ``multi_head_attention_forward`` (and ``nn.MultiheadAttention``, the Transformer layers): a boolean
  ``attn_mask`` or ``key_padding_mask`` says what is MASKED OUT (True = ignore).
- Float masks are added to the scores in both (−inf removes a position).

A query that may attend to nothing gets zero output from scaled_dot_product_attention (PyTorch's safe softmax),
and NaN from multi_head_attention_forward when it returns the weights (as PyTorch).
"""

from __future__ import annotations

import math

import numpy as np

from lamina import kernels
from lamina.nn import functional as F
from lamina.nn.module import LayerInputError
from lamina.ops import linalg as _linalg
from lamina.ops import reduce as _reduce
from lamina.ops import shape as _shape
from lamina.ops.arithmetic import where
from lamina.tensor import Tensor, from_numpy

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _check_mask(name: str, label: str, mask, dtype, shape=None) -> np.ndarray | None:
    """A mask's array: bool, or float of the query's dtype, broadcastable to ``shape`` (when given)."""
    if mask is None:
        return None
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_ and m.dtype != dtype:
        raise LayerInputError(name, f"expected {label} of dtype bool or {dtype} (the query's), got {m.dtype}")
    if shape is None:
        return m
    try:
        np.broadcast_shapes(m.shape, shape)
    except ValueError:
        raise LayerInputError(name, f"{label} of shape {m.shape} does not broadcast to the attention scores' shape "
                                    f"{shape} (..., target length, source length)") from None
    return m


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim, with 0 (not NaN) for a row that is −inf everywhere (PyTorch's _safe_softmax)."""
    if scores.ndim and scores.size and kernels.fits(scores.array):  # one kernel pass, dead rows included
        return _reduce.LastDimSafeSoftmax.apply(scores, dim=scores.ndim - 1)
    dead = np.all(scores.array == -np.inf, axis=-1, keepdims=True)
    if not dead.any():
        return _reduce.Softmax.apply(scores, dim=scores.ndim - 1)
    weights = _reduce.Softmax.apply(where(dead, 0.0, scores), dim=scores.ndim - 1)
    return weights * from_numpy((~dead).astype(scores.dtype))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q·Kᵀ·scale + mask)·V over (..., L, E) queries and (..., S, E) keys, (..., S, Ev) values.

    scale defaults to 1/√E. A boolean attn_mask keeps the positions where it is True; a float one is added.
    is_causal keeps the lower triangle (query i attends to keys 0..i); it excludes attn_mask, as in PyTorch.
    """
    name = "scaled_dot_product_attention"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise LayerInputError(name, f"expected query, key and value of at least 2 dimensions (..., L, E), got "
                                    f"shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise LayerInputError(name, f"query (..., L, E) and key (..., S, E) need the same E, and key and value "
                                    f"(..., S, Ev) the same S; got shapes {tuple(query.shape)}, "
                                    f"{tuple(key.shape)}, {tuple(value.shape)}")
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise LayerInputError(name, f"expected query, key and value of one dtype, got {query.dtype}, {key.dtype}, "
                                    f"{value.dtype}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        if groups * key.shape[-3] != query.shape[-3]:
            raise LayerInputError(name, f"enable_gqa: the {query.shape[-3]} query heads must be a multiple of the "
                                        f"{key.shape[-3]} key/value heads")
        key, value = (_repeat_heads(t, groups) for t in (key, value))
    L, S = query.shape[-2], key.shape[-2]
    scores_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (L, S)
    mask = _check_mask(name, "attn_mask", attn_mask, query.dtype, scores_shape)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)
    if is_causal:
        if mask is not None:
            raise RuntimeError("scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
        mask = np.tril(np.ones((L, S), dtype=bool))
    if mask is not None:
        scores = where(mask, scores, -np.inf) if mask.dtype == np.bool_ else scores + from_numpy(mask)
    weights = _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, True)
    return weights @ value


def _repeat_heads(t: Tensor, groups: int) -> Tensor:
    """(..., H, S, E) -> (..., H·groups, S, E), each head repeated groups times in a row (repeat_interleave)."""
    shape = t.shape
    return t.unsqueeze(-3).expand(*shape[:-2], groups, *shape[-2:]).reshape(*shape[:-3], shape[-3] * groups,
                                                                             *shape[-2:])


def _as_float_mask(mask: np.ndarray | None, dtype) -> np.ndarray | None:
    """PyTorch's canonical mask: a boolean mask (True = masked out) becomes 0 / −inf to add to the scores."""
    if mask is None or mask.dtype != np.bool_:
        return mask
    return np.where(mask, np.asarray(-np.inf, dtype), np.asarray(0, dtype))


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
                                 bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None, need_weights: bool = True,
                                 attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None, static_k=None, static_v=None,
                                 average_attn_weights: bool = True, is_causal: bool = False):
    """Multi-head attention on time-major (L, N, E) inputs (or unbatched (L, E)): project, attend per head,
    project back. Returns (output, weights or None). Boolean masks here: True = masked out."""
    name = "multi_head_attention"
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k and static_v are not supported")
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise LayerInputError(name, f"expected query, key and value all 3-D (L, N, E) or all 2-D (L, E) "
                                    f"(unbatched), got shapes {tuple(query.shape)}, {tuple(key.shape)}, "
                                    f"{tuple(value.shape)}")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise LayerInputError(name, f"expected query with {embed_dim_to_check} features (embed_dim) in the last "
                                    f"dimension, got shape {tuple(query.shape)}")
    if key.shape[:2] != value.shape[:2] or key.shape[1] != bsz:
        raise LayerInputError(name, f"key {tuple(key.shape)} and value {tuple(value.shape)} must have the same "
                                    f"length and the query's batch size {bsz}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise LayerInputError(name, f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    kpm = _check_mask(name, "key_padding_mask", key_padding_mask, query.dtype)
    if kpm is not None and kpm.shape != (bsz, src_len):
        raise LayerInputError(name, f"expected key_padding_mask of shape {(bsz, src_len)} (batch, source length), "
                                    f"got {kpm.shape}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    mask = _check_mask(name, "attn_mask", attn_mask, query.dtype)
    if mask is not None:
        expected = (tgt_len, src_len) if mask.ndim == 2 else (bsz * num_heads, tgt_len, src_len)
        if mask.shape != expected:
            raise LayerInputError(name, f"expected attn_mask of shape {(tgt_len, src_len)} (target length, source "
                                        f"length) or {(bsz * num_heads, tgt_len, src_len)} (batch·heads, target, "
                                        f"source), got {mask.shape}")
        mask = _as_float_mask(mask, query.dtype)
        mask = mask[None] if mask.ndim == 2 else mask
    kpm = _as_float_mask(kpm, query.dtype)

    # input projections
    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = _shape.chunk(in_proj_weight, 3)
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = _shape.chunk(in_proj_bias, 3)
    if key.shape[-1] != w_k.shape[1] or value.shape[-1] != w_v.shape[1]:
        raise LayerInputError(name, f"expected key with {w_k.shape[1]} features (kdim) and value with "
                                    f"{w_v.shape[1]} (vdim), got shapes {tuple(key.shape)} and {tuple(value.shape)}")
    q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)
    if bias_k is not None and bias_v is not None:
        k = _shape.cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = _shape.cat([v, bias_v.expand(1, bsz, embed_dim)])
        mask = None if mask is None else np.pad(mask, ((0, 0), (0, 0), (0, 1)))
        kpm = None if kpm is None else np.pad(kpm, ((0, 0), (0, 1)))
    # (length, batch, E) -> (batch·heads, length, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = from_numpy(np.zeros((bsz * num_heads, 1, head_dim), dtype=q.dtype))
        k, v = _shape.cat([k, zeros], dim=1), _shape.cat([v, zeros], dim=1)
        mask = None if mask is None else np.pad(mask, ((0, 0), (0, 0), (0, 1)))
        kpm = None if kpm is None else np.pad(kpm, ((0, 0), (0, 1)))
    src_len = k.shape[1]
    if kpm is not None:  # (batch, S) -> (batch·heads, 1, S), merged with attn_mask by addition
        kpm = np.broadcast_to(kpm[:, None, None, :], (bsz, num_heads, 1, src_len)).reshape(bsz * num_heads, 1,
                                                                                             src_len)
        mask = kpm if mask is None else mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = _linalg.bmm(q * (1.0 / math.sqrt(head_dim)), k.transpose(1, 2))
        if mask is not None:
            scores = scores + from_numpy(np.ascontiguousarray(mask))
        weights = _reduce.Softmax.apply(scores, dim=2)
        if dropout_p > 0.0:
            weights = F.dropout(weights, dropout_p, True)
        out = _linalg.bmm(weights, v)
    else:
        weights = None
        attn = None if mask is None else from_numpy(np.ascontiguousarray(mask))
        out = scaled_dot_product_attention(q, k, v, attn, dropout_p)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = F.linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if weights is not None:
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights
