"""Random draws from given probabilities: multinomial (category indices) and bernoulli (zeros and ones).

Every draw comes from ``lamina.random.rng(generator)``: lamina's global stream, or the ``lamina.Generator``
passed in, so ``lamina.manual_seed`` makes them repeatable.
"""

from __future__ import annotations

import numpy as np

from lamina import random as _random
from lamina.autograd.function import Function
from lamina.tensor import Tensor, from_numpy


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (1-D: one distribution; 2-D: one per row), drawn
    with probability proportional to the row's non-negative weights (they need not sum to 1). int64, of shape
    (num_samples,) or (rows, num_samples).

    With replacement each draw is independent: u ~ U[0, 1) is located in the row's normalised cumulative sums.
    Without replacement the draws are the categories in order of increasing E_i / p_i with E_i ~ Exp(1): the
    smallest is a draw from p, the next a draw from what remains, and so on (the exponential race, which is
    what PyTorch computes too). Zero-weight categories come last, so they are drawn only once the others run out.
    """
    p = input.array
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(p.shape)}")
    if p.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got {p.dtype}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"multinomial: num_samples must be an integer, got {type(num_samples).__name__}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got num_samples={num_samples})")
    n = p.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"({num_samples} > {n})")
    rows = p.reshape(-1, n).astype(np.float64)
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise RuntimeError(f"multinomial: invalid multinomial distribution (sum of probabilities <= 0) in row "
                           f"{int(np.argmax(totals <= 0))}")
    rng = _random.rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        cdf /= cdf[:, -1:]  # the last entry is exactly 1, so trailing zero-weight categories are never drawn
        u = rng.random((rows.shape[0], num_samples))
        # one searchsorted for all rows: row r's cumulative sums and draws shifted into [r, r + 1)
        offsets = np.arange(rows.shape[0])[:, None]
        flat = (cdf + offsets).ravel()
        idx = np.searchsorted(flat, (u + offsets).ravel(), side="right").reshape(u.shape) - offsets * n
        idx = np.minimum(idx, n - 1)  # float rounding of r + u at the very top of a row
    else:
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential(rows.shape) / rows  # zero weight: +inf, drawn last
        idx = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = idx.astype(np.int64)
    return from_numpy(out.reshape(num_samples) if p.ndim == 1 else out)


class Bernoulli(Function):
    """1 with probability p, else 0; the gradient is zero (as PyTorch's: the draw is not differentiable)"""

    def forward(self, p, generator):
        self.shape = p.shape
        return (_random.rng(generator).random(p.shape) < p).astype(p.dtype)

    def backward(self, g):
        return np.zeros(self.shape, dtype=g.dtype)


def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:
    """Zeros and ones of input's shape and floating dtype: element i is 1 with probability input[i], or with
    probability ``p`` for every element when p is given."""
    if input.dtype.kind != "f":
        raise TypeError(f"bernoulli: expected a floating-point tensor, got dtype {input.dtype} (PyTorch: "
                        "not implemented for integer types)")
    if p is not None:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli: expects p to be in [0, 1], but got p={p}")
        probs = np.full(input.shape, p, dtype=input.dtype)
        return from_numpy((_random.rng(generator).random(probs.shape) < probs).astype(input.dtype))
    a = input.array
    if not np.all((a >= 0) & (a <= 1)):
        raise RuntimeError("bernoulli: expected every probability in [0, 1], got values such as "
                           f"{a[~((a >= 0) & (a <= 1))].ravel()[:3].tolist()}")
    return Bernoulli.apply(input, generator=generator)
