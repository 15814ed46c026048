"""Generated sequence tasks: forecasting noisy sums of sines, and a classification where only the order of two
tokens decides the label. Each returns (X, y) Tensors; a seed gives the same data everywhere."""

from __future__ import annotations

import numpy as np

from lamina.factories import from_numpy
from lamina.tensor import Tensor


def sine_waves(n_series: int = 1000, length: int = 50, n_waves: int = 3, noise: float = 0.05,
               min_period: float = 6.0, max_period: float = 30.0, seed: int = 0) -> Tensor:
    """``n_series`` series of ``length`` steps, each a sum of ``n_waves`` sines plus Gaussian noise:

        s(t) = Σ_k a_k·sin(2π t / T_k + φ_k) + noise·ε_t,  a_k ~ U(0.5, 1)/n_waves, T_k ~ U(min_period, max_period),
        φ_k ~ U(0, 2π), ε_t standard normal,

    drawn afresh for every series, so no two series share their periods. float32 (n_series, length)."""
    if n_series < 1 or length < 2 or n_waves < 1 or noise < 0 or not 0 < min_period <= max_period:
        raise ValueError(f"sine_waves: need n_series >= 1, length >= 2, n_waves >= 1, noise >= 0 and "
                         f"0 < min_period <= max_period, got n_series={n_series}, length={length}, "
                         f"n_waves={n_waves}, noise={noise}, min_period={min_period}, max_period={max_period}")
    rng = np.random.default_rng(seed)
    shape = (n_series, n_waves, 1)
    amplitude = rng.uniform(0.5, 1.0, shape) / n_waves
    period = rng.uniform(min_period, max_period, shape)
    phase = rng.uniform(0, 2 * np.pi, shape)
    t = np.arange(length)
    clean = (amplitude * np.sin(2 * np.pi * t / period + phase)).sum(axis=1)
    return from_numpy((clean + noise * rng.standard_normal(clean.shape)).astype(np.float32))


def sines(n_samples: int = 1000, window: int = 40, horizon: int = 1, n_waves: int = 3, noise: float = 0.05,
          seed: int = 0, **options) -> tuple[Tensor, Tensor]:
    """A forecasting task: X (n_samples, window, 1) float32 holds the first ``window`` steps of a series from
    ``sine_waves`` (the trailing 1 is the feature dimension a recurrent layer wants, batch_first), and y
    (n_samples, horizon) the ``horizon`` steps that follow. Every sample is its own series, so a random split
    into training and validation leaks nothing. ``options`` go to ``sine_waves`` (min_period, max_period)."""
    if window < 1 or horizon < 1:
        raise ValueError(f"sines: window and horizon must be positive, got window={window}, horizon={horizon}")
    series = sine_waves(n_samples, window + horizon, n_waves, noise, seed=seed, **options).array
    return from_numpy(np.ascontiguousarray(series[:, :window, None])), from_numpy(series[:, window:].copy())


ORDER_A, ORDER_B = 1, 2  # the two marker tokens of order_task; 0 is left free for padding


def order_task(n_samples: int = 1000, length: int = 20, vocab_size: int = 10, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Does token A (1) come before token B (2)? Every sequence holds exactly one A and one B at random places,
    the other places random filler tokens 3..vocab_size-1. X (n_samples, length) int64, y (n_samples,) int64:
    1 if A comes first, else 0 (balanced in expectation).

    Both classes have the same tokens in the same numbers, so a model that sees only which tokens occur (a bag
    of words, a mean of embeddings) stays at chance; only the order tells them apart."""
    if length < 2 or vocab_size < 4 or n_samples < 1:
        raise ValueError(f"order_task: need n_samples >= 1, length >= 2 and vocab_size >= 4 (0 padding, A, B and a "
                         f"filler), got n_samples={n_samples}, length={length}, vocab_size={vocab_size}")
    rng = np.random.default_rng(seed)
    x = rng.integers(3, vocab_size, (n_samples, length))
    # two distinct places per row: the first two columns of a random permutation of the positions
    places = np.argsort(rng.random((n_samples, length)), axis=1)[:, :2]
    rows = np.arange(n_samples)
    x[rows, places[:, 0]] = ORDER_A
    x[rows, places[:, 1]] = ORDER_B
    y = (places[:, 0] < places[:, 1]).astype(np.int64)
    return from_numpy(x.astype(np.int64)), from_numpy(y)
