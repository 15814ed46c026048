"""Fused kernels: one call and one pass over memory where the NumPy reference needs three to fifteen calls.

On the small arrays of a small network every NumPy call costs about half a microsecond whatever its size,
so ``g·a·(1 − a)`` (three calls) costs three times one fused call; on large arrays a fused loop also reads
memory once instead of once per call. Each kernel is the scalar formula in a loop, compiled by numba on
first use and cached on disk. The NumPy code in the ops (unary.py, loss.py) stays the readable reference;
tests/ops/test_kernels.py checks the kernels against it: bit for bit where the formula is arithmetic and
comparisons, to float32 rounding where it calls exp or log.

The ops use a kernel for C-contiguous float32 arrays (lamina's default; anything else takes the NumPy code)
when numba is installed. Kernels that call exp or log are used only up to ``SMALL`` elements: numba's exp
and log work one element at a time, so beyond that NumPy's vectorised ones win.
"""

from __future__ import annotations

import math

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is a declared dependency; this keeps lamina importable without it
    numba = None

AVAILABLE = numba is not None
SMALL = 2048  # elements; the exp kernel's measured crossover against NumPy's sigmoid is about 1.5k

_F32 = np.dtype(np.float32)
# float32 constants: numba then keeps each operation in float32, as NumPy does on float32 arrays
_0, _1, _88, _M100, _EPS = (np.float32(v) for v in (0, 1, 88, -100, 1e-12))


def fits(a, b=None) -> bool:
    """True when the kernels apply: numba is available and the arrays given are C-contiguous float32."""
    return (AVAILABLE and a.dtype is _F32 and a.flags.c_contiguous
            and (b is None or (b.dtype is _F32 and b.flags.c_contiguous)))


def fits_small(a, b=None) -> bool:
    """``fits`` for a kernel that calls exp or log: also at most SMALL elements."""
    return a.size <= SMALL and fits(a, b)


def jit(fn):
    """Compile a loop as every lamina kernel is compiled (these and lamina.optim.fused), cached on disk.

    error_model="numpy": no Python zero-division checks, which would stop the loops from vectorising.
    Compiled code raises no NumPy floating-point warnings: NaN and inf pass through as the formula gives.
    """
    return numba.njit(cache=True, error_model="numpy")(fn) if AVAILABLE else fn


_UFUNCS: dict = {}  # name -> (formula, numba signature), compiled on first use by __getattr__


def _ufunc(signature):
    """Register a formula of arithmetic alone, to be compiled into a NumPy ufunc: the cheapest call there is.

    Only arithmetic: NumPy checks the CPU's floating-point flags after a ufunc, and a comparison with
    NaN in compiled code sets the invalid-operation flag, which NumPy would report as a warning.
    """
    def register(fn):
        _UFUNCS[fn.__name__.lstrip("_")] = (fn, signature)
        return fn

    return register


def __getattr__(name: str):
    """``kernels.tanh_backward``: compile the ufunc on first use (loading it at import would cost 0.2 s each)."""
    if name not in _UFUNCS or not AVAILABLE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    fn, signature = _UFUNCS[name]
    ufunc = numba.vectorize([signature], cache=True)(fn).ufunc
    globals()[name] = ufunc
    return ufunc


# Element-wise kernels with comparisons: ``_name(inputs, out)`` is the compiled loop over the flattened
# arrays (all of one shape); ``name(inputs)`` returns a new array.


def _returning_new(loop):
    """``name(*inputs)``: run ``loop(*inputs, out)`` into a new array shaped like the last input."""
    def call(*inputs):
        out = np.empty_like(inputs[-1])
        loop(*inputs, out)
        return out

    return call


@jit
def _sigmoid(z, out):
    """σ(z) = 1/(1 + e^min(−z, 88)), as unary.sigmoid_array"""
    z, out = z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        out[i] = _1 / (math.exp(min(-z[i], _88)) + _1)


@_ufunc("float32(float32, float32)")
def _sigmoid_backward(g, a):
    """g·a·(1 − a), as unary.Sigmoid.backward"""
    return g * a * (_1 - a)


@_ufunc("float32(float32, float32)")
def _tanh_backward(g, a):
    """g·(1 − a²), as unary.Tanh.backward"""
    return g * (_1 - a * a)


@jit
def _relu(z, out):
    """max(z, 0), as unary.ReLU.forward (np.maximum: NaN stays NaN, −0 becomes 0)"""
    z, out = z.reshape(z.size), out.reshape(out.size)
    for i in range(z.size):
        v = z[i]
        out[i] = v if v > _0 or v != v else _0


@jit
def _relu_backward(g, a, out):
    """g where a > 0, else g·0, as unary.ReLU.backward (g·(a > 0): g·0 keeps NaN and the sign of zero)"""
    g, a, out = g.reshape(g.size), a.reshape(a.size), out.reshape(out.size)
    for i in range(a.size):
        out[i] = g[i] if a[i] > _0 else g[i] * _0


@jit
def _binary_cross_entropy(x, y, out):
    """−(y·max(log x, −100) + (1 − y)·max(log(1 − x), −100)), as loss.BinaryCrossEntropy (NaN outside [0, 1])"""
    x, y, out = x.reshape(x.size), y.reshape(y.size), out.reshape(out.size)
    for i in range(x.size):
        log_x = max(math.log(x[i]), _M100)  # log 0 = −inf and max(NaN, −100) = NaN in compiled code
        log_1mx = max(math.log1p(-x[i]), _M100)
        out[i] = -((log_x - log_1mx) * y[i] + log_1mx)


@jit
def _binary_cross_entropy_backward(scale, x, y, out):
    """scale·(x − y)/max(x·(1 − x), 1e-12), as loss.BinaryCrossEntropy.backward (scale: the gradient reaching
    every element)"""
    x, y, out = x.reshape(x.size), y.reshape(y.size), out.reshape(out.size)
    for i in range(x.size):
        out[i] = scale * (x[i] - y[i]) / max(x[i] * (_1 - x[i]), _EPS)


sigmoid, relu, relu_backward = _returning_new(_sigmoid), _returning_new(_relu), _returning_new(_relu_backward)
binary_cross_entropy = _returning_new(_binary_cross_entropy)
binary_cross_entropy_backward = _returning_new(_binary_cross_entropy_backward)  # scale: a float32 scalar


# Row kernels for cross-entropy on class indices: one call for the loss, one for its gradient, where the
# NumPy reference (loss.CrossEntropy) needs about fifteen calls on the same small (N, C) logits.


@jit
def cross_entropy(z, target, ignore_index, logp):
    """logp ← log_softmax of each row of z; returns (−Σ logp[i, tᵢ], number of rows) over rows with tᵢ ≠ ignore_index"""
    n, c = z.shape
    total, kept = 0.0, 0
    for i in range(n):
        m = z[i, 0]
        for j in range(1, c):
            m = max(m, z[i, j])
        s = 0.0
        for j in range(c):
            s += math.exp(z[i, j] - m)
        log_sum = np.float32(math.log(s))
        for j in range(c):
            logp[i, j] = (z[i, j] - m) - log_sum
        t = target[i]
        if t != ignore_index:
            if not 0 <= t < c:  # compiled code does not check indices; the callers have, this is a backstop
                raise IndexError("cross_entropy: a target class index is out of range")
            total -= logp[i, t]
            kept += 1
    return total, kept


@jit
def cross_entropy_backward(logp, target, ignore_index, scale, out):
    """out ← scale·(softmax − one-hot) on each row with tᵢ ≠ ignore_index, 0 on the others"""
    n, c = logp.shape
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            out[i, :] = 0
            continue
        for j in range(c):
            out[i, j] = math.exp(logp[i, j]) * scale
        out[i, t] -= scale


# Tiny fused linear layer: x·Wᵀ + b and its three gradients, each in one call. A BLAS call costs about a
# microsecond however small the product, plus a broadcast pass for the bias; for layers of a few dozen
# weights (the XOR network's) plain loops are several times quicker. Only up to TINY multiply-adds.

TINY = 512


def fits_tiny(x, w) -> bool:
    """A 2-D float32 product x·Wᵀ of at most TINY multiply-adds (W in either memory order)."""
    return (x.ndim == 2 and x.shape[0] * w.size <= TINY and x.shape[1] == w.shape[-1] and fits(x)
            and w.dtype is _F32)


@jit
def linear(x, w, b, out):
    """out ← x·Wᵀ (+ b when b is not None), as linalg.Linear.forward"""
    n, k = x.shape
    for i in range(n):
        for j in range(w.shape[0]):
            s = _0
            for l in range(k):
                s += x[i, l] * w[j, l]
            out[i, j] = s + b[j] if b is not None else s


@jit
def linear_backward(g, x, w, gx, gw, gb):
    """gx ← G·W, gw ← Gᵀ·x, gb ← Σᵢ Gᵢ for those that are not None, as linalg.Linear.backward"""
    n, k = x.shape
    m = w.shape[0]
    if gx is not None:
        for i in range(n):
            for l in range(k):
                s = _0
                for j in range(m):
                    s += g[i, j] * w[j, l]
                gx[i, l] = s
    if gw is not None:
        for j in range(m):
            for l in range(k):
                s = _0
                for i in range(n):
                    s += g[i, j] * x[i, l]
                gw[j, l] = s
    if gb is not None:
        for j in range(m):
            s = _0
            for i in range(n):
                s += g[i, j]
            gb[j] = s
