"""lamina: deep learning from first principles on NumPy, with PyTorch's names and semantics."""

# autograd first: its function.py imports tensor.py, which imports the ops, which import Function
from lamina import autograd, random
from lamina.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from lamina.dtypes import bool_ as bool  # noqa: A001  (lamina.bool, as torch.bool)
from lamina.dtypes import device, float16, float32, float64, int8, int16, int32, int64, uint8
from lamina.factories import (
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from lamina.ops.arithmetic import where
from lamina.ops.contract import cdist, einsum
from lamina.ops.linalg import matmul
from lamina.ops.movement import meshgrid
from lamina.ops.shape import cat, chunk, split, stack
from lamina.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from lamina.tensor import Tensor
from lamina.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"
float = float32  # noqa: A001  (PyTorch's aliases)
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16


def _tensor_fn(name):
    def fn(x, *args, **kwargs):
        return getattr(x if isinstance(x, Tensor) else as_tensor(x), name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"lamina.{name}(x, ...) is x.{name}(...)"
    return fn


for _name in ("add sub mul div pow neg remainder fmod floor_divide tan asin acos atan sinh cosh asinh acosh atanh "
              "arcsin arccos arctan reciprocal log2 log10 exp2 expm1 erf atan2 logaddexp lerp flip fliplr flipud "
              "roll tile repeat_interleave narrow movedim moveaxis unflatten diagonal diag trace outer cumsum cumprod "
              "gather scatter scatter_add index_select masked_select cross nan_to_num dist nonzero count_nonzero "
              "isinf isposinf isneginf isclose histc bitwise_and bitwise_or bitwise_xor bitwise_not logical_and "
              "logical_or logical_xor logical_not erfinv cummax cummin kthvalue median mode unique index_add "
              "exp log log1p sqrt abs sin cos tanh sigmoid relu clamp clip sum mean var std max min amax amin "
              "logsumexp prod argmax argmin reshape flatten transpose permute squeeze unsqueeze softmax "
              "log_softmax maximum minimum norm isnan isfinite square sign round floor ceil trunc bmm baddbmm "
              "tril triu sort argsort topk multinomial bernoulli scatter_reduce"
              ).split():
    globals()[_name] = _tensor_fn(_name)
del _name

# Subpackages and the training API load on first use, so `import lamina` stays light.
_LAZY_MODULES = {"nn", "optim", "data", "datasets", "metrics", "callbacks", "plot", "training", "serialization",
                 "cli", "cuda", "backends", "utils", "viz", "sklearn", "tune"}
_LAZY_ATTRS = {
    "save": "serialization", "load": "serialization", "save_checkpoint": "serialization",
    "load_checkpoint": "serialization",
    "fit": "training", "evaluate": "training", "predict": "training", "History": "training",
}


def __getattr__(name):
    import importlib  # inside: this module-level __getattr__ runs only for lazy names

    if name in _LAZY_MODULES:
        return importlib.import_module(f"lamina.{name}")
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f"lamina.{_LAZY_ATTRS[name]}"), name)
    raise AttributeError(f"module 'lamina' has no attribute {name!r}")


__all__ = [n for n in dir() if not n.startswith("_")] + sorted(_LAZY_MODULES | set(_LAZY_ATTRS))

from lamina import threads as _threads  # noqa: E402

_threads._from_environment()  # LAMINA_NUM_THREADS=n: the BLAS thread count from the start
