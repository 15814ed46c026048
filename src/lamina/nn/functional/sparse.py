"""Checked entry points of the lookup layers: embedding and embedding_bag (re-exported by lamina.nn.functional)."""

from __future__ import annotations

import numpy as np

from lamina.autograd.grad_mode import no_grad
from lamina.nn.module import LayerInputError
from lamina.ops import embedding as _embedding
from lamina.tensor import Tensor, from_numpy

__all__ = ["embedding", "embedding_bag"]


def _indices(name: str, input, num: int) -> np.ndarray:
    """The index array, checked: integers in [0, num)."""
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise LayerInputError(name, f"expected integer indices (int64 or int32), got dtype {idx.dtype}; "
                                    f"convert with .long()")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise LayerInputError(name, f"index {bad} is out of range for an embedding of size {num} "
                                        f"(indices must be in [0, {num - 1}])")
    return idx


def _padding_idx(name: str, padding_idx, num: int):
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(f"{name}: padding_idx {padding_idx} must be within the {num} embeddings")
    return padding_idx % num


def _renorm_(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale each looked-up row whose norm exceeds max_norm down to max_norm, in place (PyTorch's embedding_renorm_)."""
    rows = np.unique(idx)
    w = weight.array
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    with no_grad():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7)).astype(w.dtype)[:, None]


def _check_weight(name: str, weight: Tensor) -> None:
    if weight.ndim != 2:
        raise LayerInputError(name, f"expected a 2-D weight (num_embeddings, embedding_dim), got shape "
                                    f"{tuple(weight.shape)}")


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """weight[input]: one row of the table per index; the row of padding_idx gets no gradient."""
    _check_weight("embedding", weight)
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported; lamina's gradients are dense")
    num = weight.shape[0]
    idx = _indices("embedding", input, num)
    padding_idx = _padding_idx("embedding", padding_idx, num)
    if max_norm is not None:
        _renorm_(weight, idx, float(max_norm), float(norm_type))
    return _embedding.Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum or mean of the rows of each bag: bags are the rows of a 2-D input, or for a 1-D input the runs
    that ``offsets`` start; indices equal to padding_idx are left out (and not counted by the mean)."""
    _check_weight("embedding_bag", weight)
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if mode == "max":
        raise NotImplementedError("embedding_bag: mode='max' is not implemented; use 'sum' or 'mean'")
    if sparse or scale_grad_by_freq:
        raise NotImplementedError("embedding_bag: sparse and scale_grad_by_freq are not supported")
    num = weight.shape[0]
    idx = _indices("embedding_bag", input, num)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets has to be None if input is 2D")
        num_bags = idx.shape[0]
        bags = np.repeat(np.arange(num_bags), idx.shape[1])
        idx = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: offsets has to be a 1D Tensor but got None")
        offs = offsets.array if isinstance(offsets, Tensor) else np.asarray(offsets)
        if offs.ndim != 1 or (offs.size and (offs[0] != 0 or np.any(np.diff(offs) < 0) or offs[-1] > idx.size)):
            raise ValueError(f"embedding_bag: offsets must be a non-decreasing 1-D sequence starting at 0 and "
                             f"within the {idx.size} indices, got {offs.tolist()}")
        if include_last_offset:
            offs = offs[:-1]
        num_bags = offs.size
        bags = np.searchsorted(offs, np.arange(idx.size), side="right") - 1
    else:
        raise LayerInputError("embedding_bag", f"expected a 1-D (with offsets) or 2-D input, got shape {idx.shape}")
    psw = per_sample_weights
    if psw is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}')")
        if psw.shape != tuple(input.shape):
            raise ValueError(f"embedding_bag: per_sample_weights must have the input's shape {tuple(input.shape)}, "
                             f"got {tuple(psw.shape)}")
        psw = psw.reshape(-1)
    padding_idx = _padding_idx("embedding_bag", padding_idx, num)
    if max_norm is not None:
        _renorm_(weight, idx, float(max_norm), float(norm_type))
    if padding_idx is not None:
        keep = idx != padding_idx
        idx, bags = idx[keep], bags[keep]
        if psw is not None:
            psw = psw[from_numpy(np.flatnonzero(keep))]
    scale = psw
    if mode == "mean":
        counts = np.bincount(bags, minlength=num_bags)
        scale = (1.0 / np.maximum(counts, 1)).astype(weight.dtype)[bags]
    return _embedding.EmbeddingBag.apply(weight, idx, bags, scale, num_bags)
