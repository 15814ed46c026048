"""Clipping gradients, flattening parameters to one vector, and an L1/L2 penalty term."""

from __future__ import annotations

import numpy as np

from lamina.autograd.grad_mode import no_grad
from lamina.ops.loss import Penalty
from lamina.ops.shape import cat
from lamina.tensor import Tensor, from_numpy


def _tensors(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    if hasattr(parameters, "parameters") and callable(parameters.parameters):  # a Module
        return list(parameters.parameters())
    return list(parameters)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale all gradients together so their joint norm is at most max_norm; return the norm before clipping.

    The gradients are viewed as one long vector; its ``norm_type``-norm (inf for the largest magnitude) is
    computed, and if above max_norm every gradient is multiplied by max_norm/(norm + 1e-6).
    """
    grads = [p.grad.array for p in _tensors(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return from_numpy(np.zeros((), dtype=np.float32))
    if norm_type == float("inf"):
        norms = [np.abs(g).max(initial=0) for g in grads]
        total = np.max(np.asarray(norms))
    else:
        norms = [np.linalg.norm(g.reshape(-1), ord=norm_type) for g in grads]
        total = np.linalg.norm(np.asarray(norms), ord=norm_type)
    total = np.asarray(total, dtype=grads[0].dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    if coef < 1.0 or not np.isfinite(total):
        for g in grads:
            g *= np.asarray(coef, dtype=g.dtype)
    return from_numpy(total)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into [−clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _tensors(parameters):
        if p.grad is not None:
            np.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    return cat([p.reshape(-1) for p in _tensors(parameters)])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of a 1-D vector into the parameters, in place (the inverse of the above)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a lamina Tensor, but got: {type(vec).__name__}")
    params = _tensors(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements (the parameters' total), "
                         f"got shape {tuple(vec.shape)}")
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.array[...] = vec.array[start:start + n].reshape(p.shape)
            start += n


def penalty(parameters, l1: float = 0.0, l2: float = 0.0) -> Tensor:
    """l1·Σ|w| + l2·Σw² over the given parameters, as a differentiable scalar to add to a loss.

    Note the L2 term has no ½: its gradient is 2·l2·w. Choose the parameters, e.g. weights only:
    ``loss = loss + penalty((p for n, p in model.named_parameters() if n.endswith('weight')), l2=1e-4)``.
    Weight decay in an optimizer is the other route (it adds wd·w to the gradient directly).
    """
    params = _tensors(parameters)
    if not params or (not l1 and not l2):
        return from_numpy(np.zeros((), dtype=params[0].dtype if params else np.float32))
    return Penalty.apply(*params, l1=float(l1), l2=float(l2))
