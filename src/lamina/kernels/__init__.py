"""Fused kernels: one compiled call and one pass over memory where the NumPy reference needs three to fifteen calls.

On the small arrays of a small network every NumPy call costs about half a microsecond whatever its size,
so ``g·a·(1 − a)`` (three calls) costs three times one fused call; on large arrays a fused loop also reads
memory once instead of once per call. Each kernel is the scalar formula of a NumPy reference in a loop,
compiled by numba on first use and cached on disk. The NumPy code stays the readable definition: each kernel's
docstring names the code it mirrors, and tests/kernels checks it against that code, bit for bit where the formula
is arithmetic and comparisons, to float32 rounding where it calls exp or log.

    unary.py    sigmoid, sigmoid_backward, tanh_backward, relu, relu_backward,
                gelu (the value and the derivative in one pass)                    (for lamina/ops/unary.py)
    loss.py     binary_cross_entropy(_backward), cross_entropy(_backward)          (for lamina/ops/loss.py)
    linalg.py   linear, linear_backward: a tiny fully connected layer               (for lamina/ops/linalg.py)
    elementwise.py  cube, fourth and their backwards: x**3, x**4 as products      (for lamina/ops/arithmetic.py)
    index.py    scatter_add_rows: a table's gradient, rows summed by index     (for lamina/ops/embedding.py)
    optim.py    sgd_step, adam_step: the whole update in one pass                  (for lamina/optim/sgd.py, adam.py)
    vecmath.py  exp32, sigmoid32, tanh32: float32 arithmetic alone, so that loops calling them vectorise
                (any size: unlike the libm-calling kernels, these are not limited to SMALL elements)
    norm.py     layer_norm(_backward): LayerNorm over the last dim, one pass each     (for lamina/ops/norm.py)
    softmax.py  safe_softmax, softmax_backward: the attention's softmax, one pass each (for lamina/ops/reduce.py)
    dropout.py  dropout: a large mask's hashed numbers, the mask and x·mask in one pass (for lamina/ops/dropout.py)
    rnn.py      lstm_forward, lstm_backward, gru_forward, gru_backward: a whole
                direction of a recurrent layer, its gate arithmetic fused per step; lstm_gate_grads: one
                step of the LSTM's backward, for larger layers                      (for lamina/ops/rnn.py)
    conv.py     im2col, col2im, conv_output, max_pool(_backward), max_pool_2x2_values: sliding
                windows in one pass                                                (for lamina/ops/conv.py, pool.py)
    conv_direct.py  direct_conv: a convolution with few input values per output, without im2col
                                                                                   (for lamina/ops/conv.py)

This package imports neither ``ops`` nor ``optim``; they import it. It loads numba (0.6 s) only on the first
kernel call: ``kernels.relu`` is looked up by ``__getattr__`` below, which imports the kernel's module (and
with it numba) and then keeps the kernel here as a plain attribute.

Calling convention: ``name(inputs..., scalars..., outputs...)``. A kernel reads its input arrays, writes its
results into the output arrays the caller passes (an optimizer's parameter and state, updated in place, are
outputs), and returns nothing or scalars (cross_entropy: the loss sum and the number of rows counted). The
element-wise kernels may also be called without outputs, ``name(inputs...)``, and return a new array: for the
ufuncs (formulas of arithmetic alone, compiled into NumPy ufuncs) that is the ufunc's own call; for the loops a
thin Python function around the compiled ``_name``.

When the kernels apply: an op calls ``fits`` (or ``fits_small``, ``fits_tiny``), the optimizers ``usable``,
before each call. They hold for C-contiguous float32 arrays (lamina's default; anything else takes the NumPy
code) while the kernels are enabled. Kernels that call exp or log are used only up to ``SMALL`` elements:
numba's exp and log work one element at a time, so beyond that NumPy's vectorised ones win.

The switch: the kernels are enabled when numba is installed, unless the environment variable
``LAMINA_KERNELS=0`` was set when lamina was imported. ``set_enabled(False)`` turns them off (and
``with set_enabled(False):`` for a block); every op then runs its NumPy code, as do the optimizers whatever
their ``fused=``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import numpy as np

AVAILABLE = importlib.util.find_spec("numba") is not None  # installed; imported only by the first kernel call
ENABLED = AVAILABLE and os.environ.get("LAMINA_KERNELS", "1") != "0"  # read by every check below
SMALL = 2048  # elements; the exp kernel's measured crossover against NumPy's sigmoid is about 1.5k
TINY = 512  # multiply-adds of a fully connected layer under which plain loops beat a BLAS call
RNN_GATES = 4096  # gate values per time step (batch × gates × hidden) up to which the recurrent loops are compiled

_F32 = np.dtype(np.float32)


class set_enabled:
    """``set_enabled(False)`` turns every kernel off (the NumPy code runs), ``set_enabled(True)`` back on;
    ``with set_enabled(False):`` does it for a block and then restores the previous state."""

    def __init__(self, mode: bool):
        global ENABLED
        if mode and not AVAILABLE:
            raise RuntimeError("lamina.kernels.set_enabled(True) needs numba (pip install numba)")
        self.prev, ENABLED = ENABLED, bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global ENABLED
        ENABLED = self.prev


def is_enabled() -> bool:
    return ENABLED


def fits(a, b=None) -> bool:
    """True when the kernels apply: they are enabled and the arrays given are C-contiguous float32."""
    return (ENABLED and a.dtype is _F32 and a.flags.c_contiguous
            and (b is None or (b.dtype is _F32 and b.flags.c_contiguous)))


def fits_dtype(a, b=None) -> bool:
    """``fits`` for a ufunc kernel, which NumPy runs over any memory layout: float32 arrays while enabled."""
    return ENABLED and a.dtype is _F32 and (b is None or b.dtype is _F32)


def fits_small(a, b=None) -> bool:
    """``fits`` for a kernel that calls exp or log: also at most SMALL elements."""
    return a.size <= SMALL and fits(a, b)


def fits_tiny(x, w) -> bool:
    """A 2-D float32 product x·Wᵀ of at most TINY multiply-adds (W in either memory order)."""
    return (x.ndim == 2 and x.shape[0] * w.size <= TINY and x.shape[1] == w.shape[-1] and fits(x)
            and w.dtype is _F32)


def usable(param, grad) -> bool:
    """The optimizer kernels take float32 arrays in one block, both in C order or both in Fortran order (Linear's
    weights); anything else uses NumPy. The optimizer state is made in the parameter's order (zeros_like)."""
    if not (ENABLED and param.dtype is _F32 and grad.dtype is _F32):
        return False
    p, g = param.flags, grad.flags
    return (p.c_contiguous and g.c_contiguous) or (p.f_contiguous and g.f_contiguous)


# -- compiling, on first use -----------------------------------------------------------------------------------

def jit(fn=None, *, fastmath=()):
    """Compile a loop as every lamina kernel is compiled: on its first call, cached on disk. ``@jit`` or, with
    LLVM's fast-math flags, ``@jit(fastmath={"contract"})``.

    error_model="numpy": no Python zero-division checks, which would stop the loops from vectorising.
    Compiled code raises no NumPy floating-point warnings: NaN and inf pass through as the formula gives.
    nogil: a kernel releases the GIL while it runs, so that inference can run it on two ranges of samples at once
    (lamina.threads).
    fastmath: none by default (the kernels equal their NumPy references bit for bit). ``contract`` lets a·b + c
    become one fused multiply-add (one rounding instead of two: vecmath's polynomials); ``reassoc`` lets a sum be
    reordered, so that it vectorises (norm's and softmax's row sums, equal to NumPy's to float32 rounding). No
    flag that changes what NaN and inf mean.
    """
    if fn is None:
        return lambda f: jit(f, fastmath=fastmath)
    import numba  # here, not at the top: numba costs 0.6 s of import time; this runs on the first kernel call

    return numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=set(fastmath) or False)(fn)


def ufunc(signature: str):
    """Mark a formula of arithmetic alone, to be compiled into a NumPy ufunc (the cheapest call there is) when
    it is first used: loading a compiled ufunc costs 0.2 s, so only the ones used are loaded.

    Only arithmetic: NumPy checks the CPU's floating-point flags after a ufunc, and a comparison with NaN in
    compiled code sets the invalid-operation flag, which NumPy would report as a warning.
    """
    def mark(fn):
        fn.ufunc_signature = signature
        return fn

    return mark


_HOMES = {  # kernel -> the module that defines it
    **dict.fromkeys(("sigmoid", "sigmoid_backward", "tanh_backward", "relu", "relu_backward", "gelu"), "unary"),
    **dict.fromkeys(("binary_cross_entropy", "binary_cross_entropy_backward", "cross_entropy",
                     "cross_entropy_backward"), "loss"),
    **dict.fromkeys(("linear", "linear_backward"), "linalg"),
    **dict.fromkeys(("cube", "cube_backward", "fourth", "fourth_backward"), "elementwise"),
    "scatter_add_rows": "index",
    "lstm_step": "rnn",  # one step of a larger LSTM layer (lamina/ops/rnn.py)
    **dict.fromkeys(("layer_norm", "layer_norm_backward"), "norm"),  # LayerNorm over the last dim (ops/norm.py)
    "dropout": "dropout",  # a large float32 dropout: mask and product in one pass (ops/dropout.py)
    **dict.fromkeys(("safe_softmax", "softmax_backward"), "softmax"),  # the attention's softmax (ops/reduce.py)
    **dict.fromkeys(("sgd_step", "adam_step"), "optim"),
    **dict.fromkeys(("lstm_forward", "lstm_backward", "lstm_gate_grads", "gru_forward", "gru_backward"), "rnn"),
    **dict.fromkeys(("im2col", "col2im", "max_pool", "max_pool_2x2_values", "max_pool_backward", "conv_output"),
                     "conv"),
    "direct_conv": "conv_direct",
}


def __getattr__(name: str):
    """``kernels.relu``: load the kernel's module (numba with it) and compile a ufunc, once; then keep it here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    kernel = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    signature = getattr(kernel, "ufunc_signature", None)
    if signature is not None:
        import numba  # already loaded by the module above

        kernel = numba.vectorize([signature], cache=True)(kernel).ufunc
    globals()[name] = kernel
    return kernel
