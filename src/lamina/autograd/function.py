"""Function: one node of the computation graph, and ``apply``, which records it.

A differentiable operation subclasses ``Function`` and defines ``forward(*arrays)`` and ``backward(grad)``
side by side (see ``lamina/ops``). ``apply`` unwraps Tensors to NumPy arrays, runs ``forward`` and, when an
input requires grad and grad mode is on, records the Function as the output's ``grad_fn``: its ``parents``
are the arguments as given (Tensors and plain values, in order) and its ``kwargs`` the keyword arguments.
Those two attributes are the one place where every node keeps its non-tensor arguments, so a walker over the
graph (``autograd.graph``) needs no knowledge of any particular op.
"""

from __future__ import annotations

import itertools

import numpy as np

from lamina.autograd.grad_mode import is_grad_enabled

_F64 = np.dtype(np.float64)
_sequence = itertools.count()


class Function:
    """A differentiable operation. Subclasses define ``forward(*arrays)`` and ``backward(grad)``.

    ``forward`` receives NumPy arrays (and plain Python values for non-tensor arguments) and
    keeps what ``backward`` needs with ``self.save(...)``. ``backward`` receives the gradient
    of the loss with respect to the output and returns one gradient per input (or a single
    array for one input); ``None`` where no gradient is needed. ``self.needs[i]`` tells whether
    input i wants a gradient, so unneeded work can be skipped. Gradients may have a broadcast
    shape: the engine sums them back to each input's shape.
    """

    parents: tuple  # the positional arguments of apply: Tensors and non-tensor values
    kwargs: dict  # the keyword arguments of apply: always non-tensor values
    needs: list
    saved: tuple | None = ()  # what backward needs; None once released
    seq: int  # creation order: a Function's inputs always have smaller seq than the Function
    float64_ok = False  # True for an op that may turn float32 into float64 (an explicit cast)
    hooks: dict | None = None  # gradient hooks of the output tensor (register_hook; {} when only retains is set)
    retains = None  # weak reference to the output tensor whose .grad backward fills (Tensor.retain_grad)
    replaced = None  # for an in-place operation's node: the node that produced the value it overwrote
    recording = True  # whether apply records this call for a backward pass (known before forward runs; an op may
    # skip what only backward needs, or share a large batch between threads, when it is False)

    def save(self, *arrays):
        self.saved = arrays

    def forward(self, *args, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs) -> Tensor:
        fn = cls()
        arrays, needs = [], []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        fn.recording = recording = True in needs and is_grad_enabled()
        try:
            out = fn.forward(*arrays, **kwargs)
        except (ValueError, IndexError) as err:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays if isinstance(a, np.ndarray))
            raise type(err)(f"{cls.__name__.lower()}: cannot apply to shapes {shapes}: {err}") from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)  # NumPy returns scalars from ops on 0-d arrays
        if out.dtype is _F64 and not cls.float64_ok and not any(
            isinstance(a, np.ndarray) and a.dtype is _F64 for a in arrays
        ):
            out = out.astype(np.float32)  # no silent float64 from int inputs or NumPy promotion
        if recording:
            fn.parents = args
            fn.kwargs = kwargs
            fn.needs = needs
            fn.seq = next(_sequence)
            return Tensor._make(out, True, fn)
        return Tensor._make(out, False, None)

    @property
    def name(self) -> str:
        return f"{type(self).__name__}Backward0"

    def __repr__(self):
        return f"<{self.name}>"


from lamina.tensor import Tensor  # noqa: E402  (tensor.py imports the ops, and the ops import Function)
