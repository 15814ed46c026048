"""Automatic differentiation: the graph's nodes, the backward sweep, grad mode, a graph walker and gradcheck.

Read it bottom up: ``grad_mode`` (is the graph recorded?), ``function`` (a node: forward and backward side by
side, recorded by ``apply``), ``engine`` (the backward sweep, which returns gradients), ``graph`` (a walker
over a recorded graph), ``gradcheck`` (autodiff against finite differences). ``Tensor.backward`` puts the
engine's gradients into ``.grad``; ``grad`` below returns them.
"""

from __future__ import annotations

import numpy as np

from lamina.autograd import graph
from lamina.autograd.engine import owned, run_backward
from lamina.autograd.function import Function
from lamina.autograd.grad_mode import (  # noqa: I001  (this order: function.py imports tensor, which needs these)
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from lamina.autograd.gradcheck import GradcheckError, gradcheck
from lamina.tensor import Tensor

__all__ = ["Function", "grad", "zero_grad_", "gradcheck", "GradcheckError", "graph", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled"]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs`` (leaves or not), as a tuple; no ``.grad`` changes.

    ``grad_outputs``: one gradient per output (None for a scalar output means 1). ``allow_unused=True``: an
    input the outputs do not depend on gets None (zeros with ``materialize_grads=True``) instead of an error.
    """
    if create_graph:
        raise NotImplementedError("create_graph=True: lamina computes first-order gradients only")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad: nothing to differentiate with respect to")
    roots = [(t, t._root_grad(g)) for t, g in zip(outputs, grad_outputs)]
    found = run_backward([t for t, _ in roots], [g for _, g in roots], bool(retain_graph), inputs)
    owners, result = set(), []
    for i, t in enumerate(inputs):
        g = found.get(t)
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) was not used in the graph of the "
                                   "outputs; pass allow_unused=True if this is expected")
            result.append(Tensor._make(np.zeros_like(t.array), False, None) if materialize_grads else None)
        else:
            result.append(Tensor._make(owned(g, t.array.dtype, owners), False, None))
    return tuple(result)


def zero_grad_(parameters, set_to_none: bool = True) -> None:
    """Forget the gradients: set every ``.grad`` to None (default) or fill it with zeros in place (Module.zero_grad
    and Optimizer.zero_grad)."""
    for p in parameters:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.detach_()
            p.grad.array.fill(0)
