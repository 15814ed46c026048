"""Module: the base class of layers and models, with PyTorch's API.

A Module keeps its learnable Parameters, its buffers (state that is saved but not learned,
such as BatchNorm's running statistics) and its submodules in three ordered dicts. Assigning
an attribute files the value in the right one, so ``self.fc = Linear(2, 3)`` is all a model
needs to declare its layers.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from lamina.autograd import zero_grad_
from lamina.autograd.grad_mode import is_grad_enabled
from lamina.autograd.hooks import RemovableHandle
from lamina.dtypes import cpu_only
from lamina.nn.parameter import Parameter
from lamina.ops.hook import Pack
from lamina.tensor import Tensor, to_dtype


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict returns (as PyTorch): the keys that did not match, by kind."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class LayerInputError(ValueError):
    """Bad input to a layer. A functional form raises it under its own name (``linear: expected ...``); the Module
    whose forward called it takes it over, and each enclosing Module's ``__call__`` fills in where the layer sits
    (``model.encoder.0``), so the message names the layer by its place in the model."""

    def __init__(self, module: Module | str, detail: str):
        self.module, self.detail, self.path = module, detail, None  # module: a Module, or a functional form's name
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.path} ({self.module!r})" if self.path else (
            self.module if isinstance(self.module, str) else repr(self.module))
        return f"{where}: {self.detail}"

    def locate(self, root: Module) -> None:
        if isinstance(self.module, str):  # raised by a functional form: the layer is the first module to see it
            self.module = root
            self.args = (self._message(),)
        for name, module in root.named_modules():
            if module is self.module:
                if name:
                    self.path = "model." + name
                    self.args = (self._message(),)
                return

    def __str__(self):
        return self._message()


def _check_name(module, name, kind):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")
    if "_parameters" not in module.__dict__:
        raise AttributeError(f"cannot assign {kind} before Module.__init__() call")


class Module:
    """Base class of every layer and model: subclass it, assign layers in ``__init__``, define ``forward``."""

    training: bool

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        try:
            if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
                return self._call_with_hooks(args, kwargs)
            return self.forward(*args, **kwargs)
        except LayerInputError as err:
            err.locate(self)
            raise

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward = _BackwardHookCall(self) if self._backward_hooks and is_grad_enabled() else None
        if backward is not None:
            args = backward.wrap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        if backward is not None:
            output = backward.wrap_outputs(output)
        return output

    def register_forward_pre_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args)`` runs before forward; returning a value replaces the input."""
        return RemovableHandle.add(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` runs after forward; returning a value replaces the output."""
        return RemovableHandle.add(self._forward_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs once the gradients with respect to the module's inputs are
        computed: tuples with one entry per positional input and per output (None where there is no gradient);
        returning a tuple replaces grad_input. As PyTorch's; the gradient of an output that does not reach the loss
        is a zero tensor here, None in PyTorch."""
        return RemovableHandle.add(self._backward_hooks, hook, prepend)

    # -- registration -------------------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        _check_name(self, name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(lamina.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"cannot assign non-leaf tensor to parameter '{name}': parameters must be leaves "
                             "(wrap a computed value as Parameter(value.detach()))")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        _check_name(self, name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(lamina Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        _check_name(self, name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(lamina.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name)
            d["_modules"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(lamina.nn.Module or None expected)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(lamina Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            d[key].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d[key]:
                del d[key][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def get_submodule(self, target: str) -> Module:
        """``model.get_submodule('encoder.0')``."""
        module = self
        for part in target.split(".") if target else []:
            if not isinstance(module._modules.get(part), Module):
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (looking up '{target}')")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        """``model.get_parameter('encoder.0.weight')``."""
        return self._get_member(target, "_parameters", "nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """``model.get_buffer('norm.running_mean')``."""
        return self._get_member(target, "_buffers", "buffer")

    def _get_member(self, target: str, store: str, kind: str):
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}` (looking up '{target}')")
        if name not in module.__dict__[store]:
            raise AttributeError(f"`{name}` is not an {kind} (looking up '{target}')")
        return module.__dict__[store][name]

    # -- traversal ----------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(name, module) for this module and every descendant, each module once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[store].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(name, parameter) pairs; a parameter shared by several layers appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalars in the (distinct) parameters; only those requiring grad if trainable_only."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- modes and bulk updates ---------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            module.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter, as Optimizer.zero_grad."""
        zero_grad_(self.parameters(), set_to_none)

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every submodule (children first) and on self, e.g. for custom init."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """``model.to(lamina.float64)`` casts floating parameters and buffers in place; 'cpu' is a no-op."""
        dtype = to_dtype(args, kwargs)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
            self._cast_floats(dtype)
        return self

    def _cast_floats(self, dtype) -> Module:
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t.array.dtype.kind == "f" and t.array.dtype != dtype:
                t.array = t.array.astype(dtype)
                if t.grad is not None:
                    t.grad.array = t.grad.array.astype(dtype)
        return self

    def float(self) -> Module:
        return self._cast_floats(np.dtype(np.float32))

    def double(self) -> Module:
        return self._cast_floats(np.dtype(np.float64))

    def half(self) -> Module:
        return self._cast_floats(np.dtype(np.float16))

    def cpu(self) -> Module:
        return self

    def cuda(self, device=None) -> Module:
        raise cpu_only("cuda")

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (``encoder.1.bias``); detached, sharing memory."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values into the parameters and buffers in place. Returns (missing_keys, unexpected_keys).

        Values may be lamina Tensors, NumPy arrays or anything ``np.asarray`` takes (torch tensors too).
        Every check runs before anything is copied, so on error the module is unchanged.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"expected a dict-like state_dict, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, sources = [], {}
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                array = value.array if isinstance(value, Tensor) else np.asarray(value)
            except Exception as err:  # noqa: BLE001 - any conversion failure is reported under the key's name
                errors.append(f'could not convert the value for "{key}" to an array: {err}')
                continue
            if array.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(target.shape)}.")
            elif array.dtype.kind not in "biuf":
                errors.append(f'value for "{key}" has non-numeric dtype {array.dtype}')
            else:
                sources[key] = array
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for key, array in sources.items():
            target = own[key].array
            if target is not array:
                np.copyto(target, array, casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # -- printing --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr; layers override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        lines = self.extra_repr().split("\n") if self.extra_repr() else []
        children = [f"({name}): " + _indent(repr(module), 2) for name, module in self._modules.items()]
        if len(lines) == 1 and not children:
            return f"{self._get_name()}({lines[0]})"
        lines += children
        if not lines:
            return f"{self._get_name()}()"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class _BackwardHookCall:
    """One forward call of a module with full backward hooks, as PyTorch runs them: the input tensors that require
    grad pass through one Pack node, the output tensors through another; the outputs' node notes grad_output, the
    inputs' node runs the hooks with grad_input (and applies a replacement they return). With no input requiring
    grad, the hooks run at the outputs' node with grad_input all None."""

    def __init__(self, module: Module):
        self.module, self.inputs, self.grad_output = module, None, None

    @staticmethod
    def _pack(values, on_grads):
        """The Tensors among values that require grad, routed through one Pack node; their indices."""
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not index:
            return values, index
        if len({values[i].dtype for i in index}) > 1:
            raise TypeError(f"{values[index[0]].dtype} and other dtypes mixed: a full backward hook needs the tensors "
                            f"of one call in one dtype")
        packed = Pack.apply(*(values[i] for i in index), on_grads=on_grads)
        values, offset = list(values), 0
        for i in index:
            n = values[i].numel()
            values[i] = packed[offset:offset + n].reshape(values[i].shape)
            offset += n
        return tuple(values), index

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_args = len(args)
        args, self.inputs = self._pack(args, self._input_grads)
        return args

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        values, index = self._pack((output,) if single else tuple(output) if isinstance(output, (tuple, list)) else (),
                                   self._output_grads)
        self.outputs, self.n_outputs = index, len(values)
        if not index:
            return output
        return values[0] if single else type(output)(values)

    @staticmethod
    def _spread(index, grads, n):
        out = [None] * n
        for i, g in zip(index, grads):
            out[i] = None if g is None else Tensor._make(g, False, None)
        return tuple(out)

    def _output_grads(self, grads):
        self.grad_output = self._spread(self.outputs, grads, self.n_outputs)
        if not self.inputs:  # nothing below to wait for
            self._run((None,) * self.n_args)
        return grads

    def _input_grads(self, grads):
        grad_input = self._run(self._spread(self.inputs, grads, self.n_args))
        new = [grad_input[i] for i in self.inputs]  # None (no gradient), a Tensor or an array
        return [np.zeros(g.shape, g.dtype) if n is None else np.asarray(getattr(n, "array", n), g.dtype)
                for n, g in zip(new, grads)]

    def _run(self, grad_input: tuple) -> tuple:
        grad_output = self.grad_output if self.grad_output is not None else (None,) * self.n_outputs
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(f"backward hook returned {len(result)} gradients, expected {len(grad_input)} "
                                       f"(one per input of {self.module._get_name()})")
                grad_input = result
        return grad_input


def _indent(text: str, spaces: int) -> str:
    """Indent every line but the first (nested reprs line up under their parent's entry)."""
    return text.replace("\n", "\n" + " " * spaces)
