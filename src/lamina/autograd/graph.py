"""Walk a recorded graph: every node with its op, its inputs, its output and its non-tensor arguments.

This is the seam the graph view and the ONNX exporter use. It needs no knowledge of any op: every Function
keeps its arguments in ``parents`` (positional, Tensors and plain values in order) and ``kwargs`` (keyword),
and the names of positional arguments come from the op's ``forward`` signature. No recursion: a chain of
10,000 operations walks as a short one does.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from lamina.autograd.engine import producer_of
from lamina.autograd.function import Function
from lamina.tensor import Tensor


@dataclass
class Node:
    """One recorded operation. ``inputs`` are the tensor arguments in order (a leaf input has no ``grad_fn``;
    a computed one is the output of the node ``producer_of(input, node.fn)``, which is ``input.grad_fn`` unless
    the input was changed in place later); ``args`` the non-tensor ones by name."""

    fn: Function
    inputs: tuple
    output_shape: tuple
    output_dtype: np.dtype
    args: dict = field(default_factory=dict)

    @property
    def op(self) -> str:
        return type(self.fn).__name__

    @property
    def input_shapes(self) -> list:
        return [tuple(t.shape) for t in self.inputs]

    @property
    def input_dtypes(self) -> list:
        return [t.dtype for t in self.inputs]


def walk(*outputs: Tensor):
    """Yield a ``Node`` for every Function that the ``outputs`` depend on, inputs before their consumers."""
    shapes = {}  # Function -> (shape, dtype) of its output
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    for t in outputs:
        if t.grad_fn is not None:
            shapes[t.grad_fn] = (tuple(t.shape), t.dtype)
    while stack:
        consumer = stack.pop()
        for p in consumer.parents:
            fn = producer_of(p, consumer)
            if fn is not None and fn not in shapes:
                shapes[fn] = (tuple(p.shape), p.dtype)
                stack.append(fn)
    for fn in sorted(shapes, key=lambda f: f.seq):
        shape, dtype = shapes[fn]
        yield Node(fn, tuple(p for p in fn.parents if isinstance(p, Tensor)), shape, dtype, arguments(fn))


def leaves(*outputs: Tensor) -> list:
    """The leaf tensors the ``outputs`` depend on (inputs and parameters), in the order the walk meets them."""
    found = {}
    for node in walk(*outputs):
        for t in node.inputs:
            if t.grad_fn is None:
                found.setdefault(id(t), t)
    found.update({id(t): t for t in outputs if t.grad_fn is None})
    return list(found.values())


def arguments(fn: Function) -> dict:
    """A node's non-tensor arguments by name: positional ones named by the op's ``forward`` signature."""
    args = {}
    names = _positional_names(type(fn))
    for i, p in enumerate(fn.parents):
        if not isinstance(p, Tensor):
            args[names[i] if i < len(names) else f"arg{i}"] = p
    args.update(fn.kwargs)
    return args


_NAMES: dict = {}


def _positional_names(cls) -> list:
    if cls not in _NAMES:
        params = list(inspect.signature(cls.forward).parameters.values())[1:]  # without self
        _NAMES[cls] = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return _NAMES[cls]
