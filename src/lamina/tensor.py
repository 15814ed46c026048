"""The Tensor: a NumPy array (``tensor.array``) that can record the operations applied to it.

Every differentiable operation is a ``Function`` (``lamina/autograd/function.py``, the ops in ``lamina/ops``);
applying one to tensors that require grad records it as the result's ``grad_fn``: that is the computation
graph. ``Tensor.backward`` asks the engine (``lamina/autograd/engine.py``) for the gradients and accumulates
them into the leaves' ``.grad``.
"""

from __future__ import annotations

import weakref

import numpy as np

from lamina import random as _random
from lamina.autograd.engine import add_leaf_hooks, owned, post_accumulate_hooks, run_backward
from lamina.autograd.grad_mode import is_grad_enabled
from lamina.autograd.hooks import RemovableHandle
from lamina.dtypes import bool_, check_device, cpu_only, device, dtype_name, float16, float32, float64, int32, int64
from lamina.tensor_math import TensorMath

_F64 = float64


def as_array(data, dtype=None) -> np.ndarray:
    """Convert data to an ndarray: Python floats become float32, ints int64; arrays keep their dtype."""
    if isinstance(data, Tensor):
        arr = data.array
    elif isinstance(data, np.ndarray):
        arr = data
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"tensor: cannot make a tensor from a NumPy array of dtype {arr.dtype}; lamina takes "
                            "numeric arrays (bool, int, float)")
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            data = _tensors_to_lists(data)
        try:
            arr = np.asarray(data)
        except ValueError:
            raise ValueError("tensor: the nested lists have different lengths (a ragged list); a tensor needs one "
                             "length per dimension: pad the rows, or make one tensor per row") from None
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"tensor: cannot make a tensor from {_describe(data)}; lamina takes numbers (bool, int, "
                            "float), nested lists or tuples of numbers, NumPy arrays and tensors")
        if dtype is None and arr.dtype == _F64:
            arr = arr.astype(np.float32)
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype), copy=False)
    elif arr.dtype.kind == "i" and arr.dtype != int64 and not isinstance(data, np.ndarray):
        arr = arr.astype(np.int64)
    return arr


def _describe(data) -> str:
    """What a value that is not numeric data holds, for an error message."""
    if isinstance(data, (list, tuple)):
        kinds = sorted({type(x).__name__ for x in _flat(data) if not isinstance(x, (bool, int, float, np.number))})
        return f"a {type(data).__name__} holding {', '.join(kinds)} values" if kinds else f"this {type(data).__name__}"
    return f"a {type(data).__name__}"


def _flat(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.array.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (no copy), outside the graph, as ``torch.from_numpy``."""
    if type(array) is not np.ndarray:
        if not isinstance(array, (np.ndarray, np.generic)):
            raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
        array = np.asarray(array)
    return Tensor._make(array, False, None)


_CPU = device("cpu")


def _size(size) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the shape (2, 3), as in PyTorch's factories."""
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def to_dtype(args: tuple, kwargs: dict):
    """The dtype asked for by the arguments of ``Tensor.to`` / ``Module.to`` (a dtype, a tensor whose dtype to
    take, a device, and the ``dtype=`` / ``device=`` keywords), or None; a device other than the CPU raises."""
    dtype = kwargs.get("dtype")
    check_device(kwargs.get("device"))
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device)):
            check_device(a)
        elif a is not None:
            dtype = a
    return dtype


def _arr(x):
    return x.array if isinstance(x, Tensor) else x


class Tensor(TensorMath):
    """An n-dimensional array that can record the operations applied to it."""

    __slots__ = ("array", "requires_grad", "grad", "grad_fn", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.array = as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, array, requires_grad, grad_fn):
        t = object.__new__(Tensor)
        t.array = array
        t.requires_grad = requires_grad
        t.grad = None
        t.grad_fn = grad_fn
        return t

    # -- properties -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.array.shape

    def size(self, dim: int | None = None): return self.array.shape if dim is None else self.array.shape[dim]

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int: return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> bool: return False

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, outside the graph (as ``torch.Tensor.data``)."""
        return Tensor._make(self.array, False, None)

    @data.setter
    def data(self, value):
        self.array = as_array(value)

    def numel(self) -> int: return self.array.size
    def nelement(self) -> int: return self.array.size
    def element_size(self) -> int: return self.array.itemsize

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor as its number, as in PyTorch."""
        return format(self.item(), spec) if self.array.ndim == 0 else object.__format__(self, spec)

    # new tensors like this one: its dtype unless dtype= says otherwise, outside the graph
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return self._new(np.array(as_array(data), dtype=dtype or self.dtype), device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(np.zeros(_size(size), dtype=dtype or self.dtype), device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(np.ones(_size(size), dtype=dtype or self.dtype), device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(np.empty(_size(size), dtype=dtype or self.dtype), device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return self._new(np.full(tuple(size), fill_value, dtype=dtype or self.dtype), device, requires_grad)

    @staticmethod
    def _new(array, device, requires_grad) -> Tensor:
        check_device(device)
        return Tensor._make(array, False, None).requires_grad_(requires_grad)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self.dtype}")
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf tensors; use .detach()")
        self.requires_grad = requires_grad
        return self

    # -- conversion -----------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad. Use tensor.detach().numpy().")
        return self.array

    def __array__(self, dtype=None, copy=None): return self.array if dtype is None else self.array.astype(dtype)

    def item(self):
        if self.array.size != 1:
            raise RuntimeError(f"a tensor with {self.array.size} elements cannot be converted to a Python scalar")
        return self.array.item()

    def tolist(self): return self.array.tolist()
    def __float__(self): return float(self.item())
    def __int__(self): return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array.item())

    def detach(self) -> Tensor: return Tensor._make(self.array, False, None)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def clone(self) -> Tensor: return ops.shape.Clone.apply(self)
    def contiguous(self) -> Tensor: return self

    def to(self, *args, **kwargs) -> Tensor:
        """``t.to(lamina.float64)``, ``t.to('cpu')``, ``t.to(other)``, ``t.to(device, dtype)``, as PyTorch; devices
        other than the CPU are refused."""
        dtype = to_dtype(args, kwargs)
        t = self if dtype is None else self.type(dtype)
        return t.clone() if kwargs.get("copy") and t is self else t

    def cpu(self) -> Tensor: return self
    def cuda(self, *args, **kwargs) -> Tensor: raise cpu_only("cuda")

    def type(self, dtype) -> Tensor:
        dtype = np.dtype(dtype)
        if dtype == self.array.dtype:
            return self
        return ops.shape.Cast.apply(self, dtype=dtype)

    def float(self): return self.type(float32)
    def double(self): return self.type(float64)
    def half(self): return self.type(float16)
    def long(self): return self.type(int64)
    def int(self): return self.type(int32)
    def bool(self): return self.type(bool_)

    # -- autograd ---------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (or only into ``inputs``' ``.grad``)."""
        if create_graph:
            raise NotImplementedError("create_graph=True: lamina computes first-order gradients only")
        if not self.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: nothing to "
                "differentiate. Create the inputs with requires_grad=True (or check for a no_grad block)."
            )
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        owners = set()
        grads = run_backward((self,), (self._root_grad(gradient),), retain_graph, inputs)
        for t, g in grads.items():
            if t.grad is None:
                t.grad = Tensor._make(owned(g, t.array.dtype, owners), False, None)
            else:
                t.grad.array += g  # casts to .grad's dtype
        if post_accumulate_hooks:
            for t in grads:
                hooks = post_accumulate_hooks.get(id(t))
                for hook in list(hooks.values()) if hooks else ():
                    hook(t)

    def _root_grad(self, gradient) -> np.ndarray:
        """The gradient that starts a backward sweep from this tensor: ones for a scalar, else ``gradient``."""
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                    f"{self.shape}. Reduce it to a scalar (e.g. .sum()) or pass gradient= of that shape."
                )
            grad = np.empty(self.array.shape, dtype=self.array.dtype)
            grad.fill(1)
            return grad
        grad = np.array(_arr(gradient), dtype=self.array.dtype)  # a copy: never alias user data
        if grad.shape != self.array.shape:
            raise RuntimeError(f"gradient has shape {grad.shape} but the tensor has shape {self.shape}")
        return grad

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()`` (leaves always have it)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retains = weakref.ref(self)
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = {}  # the engine looks at retains only for nodes with hooks

    @property
    def retains_grad(self) -> bool:
        fn = self.grad_fn
        return fn is not None and fn.retains is not None and fn.retains() is self

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = {}
            hooks = self.grad_fn.hooks
        else:
            hooks = add_leaf_hooks(self)
        return RemovableHandle.add(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after ``backward()`` has accumulated this leaf's ``.grad`` (PyTorch's name; what
        ``DistributedDataParallel`` uses to average gradients). Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad or self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors or on tensors "
                               "that do not require grad")
        return RemovableHandle.add(add_leaf_hooks(self, post_accumulate_hooks), hook)

    def zero_(self) -> Tensor:
        self._check_inplace()
        self.array[...] = 0
        return self

    # -- in-place updates -----------------------------------------------------------------------
    # Outside the graph (no_grad, or nothing requires grad) they write into the array, as optimizers and
    # initialisation need. On a tensor in the graph, arithmetic (h += x, h.mul_(2)) is recorded as PyTorch
    # records it: the tensor takes the result's value and grad_fn, and the graph keeps the old value.
    def _check_inplace(self):
        if is_grad_enabled() and self.requires_grad:
            if self.grad_fn is None:
                raise RuntimeError(
                    "a leaf Variable that requires grad is being used in an in-place operation; wrap the update "
                    "in `with lamina.no_grad():`"
                )
            raise RuntimeError(f"{self.grad_fn.name}: this in-place operation is not differentiable in lamina; "
                               "use its out-of-place form (e.g. x = x.clamp(...) instead of x.clamp_(...))")

    def _inplace(self, ufunc, other, op):
        if is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            if self.requires_grad and self.grad_fn is None:
                self._check_inplace()  # raises PyTorch's leaf error
            return self._become(op(Tensor._make(self.array, self.requires_grad, self.grad_fn), other))
        ufunc(self.array, _arr(other), out=self.array, casting="same_kind")
        return self

    def _become(self, result: Tensor) -> Tensor:
        """Take ``result``'s value and place in the graph (the recorded form of an in-place operation)."""
        if result.shape != self.shape:
            raise RuntimeError(f"output with shape {self.shape} doesn't match the broadcast shape {result.shape}")
        if result.dtype != self.dtype:
            if not np.can_cast(result.dtype, self.dtype, "same_kind"):
                raise RuntimeError(f"result type {dtype_name(result.dtype)} can't be cast to the desired output "
                                   f"type {dtype_name(self.dtype)}")
            result = result.type(self.dtype)
        if result.grad_fn is not None:
            result.grad_fn.replaced = self.grad_fn
        self.array, self.grad_fn, self.requires_grad = result.array, result.grad_fn, result.requires_grad
        return self

    def fill_(self, value) -> Tensor:
        self._check_inplace()
        self.array[...] = _arr(value)
        return self

    def copy_(self, src) -> Tensor:
        self._check_inplace()
        src = _arr(src)
        try:
            np.copyto(self.array, np.broadcast_to(src, self.array.shape), casting="unsafe")
        except ValueError:
            raise ValueError(f"copy_: cannot copy shape {np.shape(src)} into shape {self.shape}") from None
        return self

    def add_(self, other, alpha=1): return self._inplace(np.add, other if alpha == 1 else other * alpha, Tensor.__add__)

    def sub_(self, other, alpha=1):
        return self._inplace(np.subtract, other if alpha == 1 else other * alpha, Tensor.__sub__)

    def mul_(self, other): return self._inplace(np.multiply, other, Tensor.__mul__)
    def div_(self, other): return self._inplace(np.true_divide, other, Tensor.__truediv__)

    def clamp_(self, min=None, max=None):
        self._check_inplace()
        np.clip(self.array, min, max, out=self.array)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        self._check_inplace()
        self.array[...] = _random.rng(generator).uniform(a, b, self.array.shape)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        self._check_inplace()
        self.array[...] = _random.rng(generator).standard_normal(self.array.shape) * std + mean
        return self

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with zeros and ones, each 1 with probability p (a number, or a tensor that broadcasts)."""
        self._check_inplace()
        self.array[...] = _random.rng(generator).random(self.array.shape) < _arr(p)
        return self

    def _inplace_call(self, method, *args, **kwargs) -> Tensor:
        """self.method_(...) for a method that returns a new tensor: recorded in the graph as the arithmetic
        in-place updates are, written into the array outside it."""
        if is_grad_enabled() and (self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)):
            if self.requires_grad and self.grad_fn is None:
                self._check_inplace()  # raises PyTorch's leaf error
            return self._become(method(Tensor._make(self.array, self.requires_grad, self.grad_fn), *args, **kwargs))
        self.array[...] = method(Tensor._make(self.array, False, None), *args, **kwargs).array
        return self

    def scatter_(self, dim, index, src=None, value=None):
        return self._inplace_call(Tensor.scatter, dim, index, src, value)

    def scatter_add_(self, dim, index, src): return self._inplace_call(Tensor.scatter_add, dim, index, src)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return self._inplace_call(Tensor.scatter_reduce, dim, index, src, reduce, include_self=include_self)

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace_call(Tensor.index_add, dim, index, source, alpha=alpha)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # -- arithmetic ---------------------------------------------------------------------------
    def __add__(self, other): return ops.arithmetic.Add.apply(self, other)
    def __radd__(self, other): return ops.arithmetic.Add.apply(other, self)
    def __sub__(self, other): return ops.arithmetic.Sub.apply(self, other)
    def __rsub__(self, other): return ops.arithmetic.Sub.apply(other, self)
    def __mul__(self, other): return ops.arithmetic.Mul.apply(self, other)
    def __rmul__(self, other): return ops.arithmetic.Mul.apply(other, self)
    def __truediv__(self, other): return ops.arithmetic.Div.apply(self, other)
    def __rtruediv__(self, other): return ops.arithmetic.Div.apply(other, self)
    def __floordiv__(self, other): return ops.arithmetic.div(self, other, "floor")
    def __rfloordiv__(self, other): return ops.arithmetic.div(other, self, "floor")
    def __mod__(self, other): return ops.arithmetic.Remainder.apply(self, other)
    def __rmod__(self, other): return ops.arithmetic.Remainder.apply(other, self)
    def __pow__(self, other): return ops.arithmetic.pow(self, other)
    def __rpow__(self, other): return ops.arithmetic.pow(other, self)
    def __neg__(self): return ops.arithmetic.Neg.apply(self)
    def __pos__(self): return self
    def __matmul__(self, other): return ops.linalg.matmul(self, other)
    def __rmatmul__(self, other): return ops.linalg.matmul(other, self)
    def __abs__(self): return ops.unary.Abs.apply(self)
    def __getitem__(self, index): return ops.shape.getitem(self, index)

    def __setitem__(self, index, value):
        self._check_inplace()
        self.array[_index_arrays(index)] = _arr(value)

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    # comparisons give bool tensors outside the graph
    def _compare(self, ufunc, other): return Tensor._make(ufunc(self.array, _arr(other)), False, None)
    def __eq__(self, other): return self._compare(np.equal, other)
    def __ne__(self, other): return self._compare(np.not_equal, other)
    def __lt__(self, other): return self._compare(np.less, other)
    def __le__(self, other): return self._compare(np.less_equal, other)
    def __gt__(self, other): return self._compare(np.greater, other)
    def __ge__(self, other): return self._compare(np.greater_equal, other)
    def __and__(self, other): return self._compare(np.logical_and if self.dtype == bool_ else np.bitwise_and, other)
    def __or__(self, other): return self._compare(np.logical_or if self.dtype == bool_ else np.bitwise_or, other)
    def __xor__(self, other): return self._compare(np.logical_xor if self.dtype == bool_ else np.bitwise_xor, other)
    def __lshift__(self, other): return self._compare(np.left_shift, other)
    def __rshift__(self, other): return self._compare(np.right_shift, other)
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__
    def __invert__(self): return Tensor._make(~self.array, False, None)
    def bitwise_and(self, other): return self & other
    def bitwise_or(self, other): return self | other
    def bitwise_xor(self, other): return self ^ other
    def bitwise_not(self): return ~self
    def logical_and(self, other): return self._compare(np.logical_and, other)
    def logical_or(self, other): return self._compare(np.logical_or, other)
    def logical_xor(self, other): return self._compare(np.logical_xor, other)
    def logical_not(self): return Tensor._make(np.logical_not(self.array), False, None)

    __hash__ = object.__hash__

    def eq(self, other): return self == other
    def ne(self, other): return self != other
    def lt(self, other): return self < other
    def le(self, other): return self <= other
    def gt(self, other): return self > other
    def ge(self, other): return self >= other

    def equal(self, other) -> bool:
        return self.shape == np.shape(_arr(other)) and bool(np.array_equal(self.array, _arr(other)))

    def allclose(self, other, rtol=1e-05, atol=1e-08) -> bool:
        return bool(np.allclose(self.array, _arr(other), rtol=rtol, atol=atol))

    def isnan(self): return Tensor._make(np.isnan(self.array), False, None)
    def isfinite(self): return Tensor._make(np.isfinite(self.array), False, None)

    # -- printing ------------------------------------------------------------------------------
    def __repr__(self):
        arr = self.array
        if arr.dtype.kind == "f":
            finite = arr[np.isfinite(arr)]
            whole = finite.size == 0 or bool(np.all(finite == np.round(finite)))
            big = finite.size and (np.abs(finite).max() >= 1e8 or 0 < np.abs(finite[finite != 0]).min(initial=1) < 1e-4)
            body = np.array2string(
                arr, separator=", ", prefix="tensor(", precision=4,
                floatmode="unique" if whole and not big else "fixed",
                formatter={"float_kind": (lambda v: f"{v:.4e}")} if big else None,
                threshold=1000, edgeitems=3,
            )
        else:
            body = np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3)
        extras = []
        if arr.dtype not in (float32, int64, bool_) or arr.size == 0:
            extras.append(f"dtype=lamina.{dtype_name(arr.dtype)}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def _index_arrays(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    return index


from lamina import ops, tensor_math  # noqa: E402  (the ops import Tensor from this module)

tensor_math.ops = ops  # TensorMath's methods call the ops; they can be bound only now that both exist
