"""nn.MultiheadAttention with PyTorch's parameters (``in_proj_weight`` (3·E, E) stacking W_q, W_k, W_v, or
``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when kdim or vdim differ from embed_dim; ``in_proj_bias``;
``out_proj``), init and masks (boolean True = masked out). The computation is
lamina.nn.functional.multi_head_attention_forward."""

from __future__ import annotations

import numpy as np

from lamina.nn import functional as F
from lamina.nn import init
from lamina.nn.functional import fast_attention as _fast
from lamina.nn.linear import Linear
from lamina.nn.module import Module
from lamina.nn.parameter import Parameter
from lamina.tensor import Tensor


class NonDynamicallyQuantizableLinear(Linear):
    """Linear under the name PyTorch gives MultiheadAttention's out_proj (its reprs then match)."""


class MultiheadAttention(Module):
    """Attention over num_heads subspaces of embed_dim/num_heads features each, concatenated and projected:
    MultiHead(Q, K, V) = concat(head_1, ..., head_h)·W_o, head_i = softmax(Q·W_qiᵀ·(K·W_kiᵀ)ᵀ/√d)·V·W_viᵀ."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError(f"embed_dim must be divisible by num_heads (got embed_dim={embed_dim} and "
                                 f"num_heads={num_heads})")
        dtype = np.dtype(dtype or np.float32)
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dtype=dtype))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections, zero biases, Xavier-normal bias_k and bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        """(attn_output, attn_weights or None). Inputs (L, N, E), or (N, L, E) with batch_first, or unbatched
        (L, E). Boolean masks: True = masked out; key_padding_mask (N, S), attn_mask (L, S) or (N·heads, L, S)."""
        if query is key and key is value and not need_weights:
            fast = self._inference_fast_path(query, attn_mask, key_padding_mask, is_causal)
            if fast is not None:
                return fast, None
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k,
            self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        return out, weights

    def _fast_path_structure(self) -> bool:
        """Packed Q/K/V weights, no bias_k/bias_v, no zero attention and a plain out_proj: what the fast path
        computes."""
        return (self._qkv_same_embed_dim and self.bias_k is None and not self.add_zero_attn
                and isinstance(self.out_proj, Linear) and not self.out_proj._forward_hooks)

    def _inference_fast_path(self, x: Tensor, attn_mask, key_padding_mask, is_causal) -> Tensor | None:
        """Self-attention computed on arrays (nn.functional.fast_attention), as PyTorch's fast path in eval mode,
        or None when the graph must run (a gradient needed, dropout active, a hooked out_proj, or an input the
        graph path checks and refuses)."""
        if (not isinstance(x, Tensor) or x.ndim not in (2, 3) or (is_causal and attn_mask is None)
                or (self.training and self.dropout > 0) or not self._fast_path_structure()
                or x.shape[-1] != self.embed_dim or x.dtype != self.in_proj_weight.dtype
                or _fast.needs_graph(self, x) or _fast.submodule_hooks(self)):
            return None
        a = _fast.to_batch_first(x.array, self.batch_first)
        mask = _fast.eligible_masks(attn_mask, key_padding_mask, a.shape[0], self.num_heads, a.shape[1], a.dtype,
                                    x.ndim == 3)
        if mask is None:
            return None
        out = _fast.self_attention_array(a, self.num_heads, _fast.param_array(self, "in_proj_weight"),
                                         _fast.param_array(self, "in_proj_bias"),
                                         _fast.param_array(self.out_proj, "weight"),
                                         _fast.param_array(self.out_proj, "bias"), mask)
        return _fast.from_batch_first(out, x.ndim, self.batch_first)
