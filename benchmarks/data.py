"""The shared inputs: synthetic MNIST-shaped data, XOR, the digits split, and one set of initial weights.

Every side of a comparison trains from the same arrays (the peers wrap them without copying) and
starts from the same weights, drawn here once with a fixed seed.
"""

from __future__ import annotations

import functools

import numpy as np

MLP_SIZES = (784, 512, 256, 10)
XOR_SIZES = (2, 8, 1)
SEED = 0


@functools.lru_cache(maxsize=1)
def mnist_like(samples: int, seed: int = SEED) -> tuple:
    """``samples`` x 784 float32 pixels in [0, 1) and int64 labels from a fixed random linear teacher.

    Cached: the workloads of one run share the arrays (every side only reads them).
    """
    rng = np.random.default_rng(seed)
    x = rng.random((samples, MLP_SIZES[0]), dtype=np.float32)
    teacher = rng.standard_normal((MLP_SIZES[0], MLP_SIZES[-1]), dtype=np.float32)
    y = np.empty(samples, np.int64)
    for i in range(0, samples, 4096):  # in chunks, so the peak memory of a process is the data set's own
        y[i:i + 4096] = np.argmax((x[i:i + 4096] - 0.5) @ teacher, axis=1)
    return x, y


def xor() -> tuple:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return x, y


def initial_weights(sizes: tuple, seed: int = SEED) -> list:
    """[(W (out, in), b (out,)), ...] drawn U(-1/sqrt(in), 1/sqrt(in)), PyTorch's default for Linear."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        layers.append((w, b))
    return layers


def batch_slices(samples: int, batch: int) -> list:
    """Consecutive full batches (a trailing partial batch is dropped so every step has the same size)."""
    if samples < batch:
        raise ValueError(f"the data set has {samples} samples, fewer than one batch of {batch}")
    return [slice(i, i + batch) for i in range(0, samples - batch + 1, batch)]


def digits_split(seed: int = SEED) -> tuple:
    """sklearn's bundled 8x8 digits, a fixed stratified 75/25 split, standardised on the training part."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return (scaler.transform(x_train).astype(np.float32), y_train.astype(np.int64),
            scaler.transform(x_test).astype(np.float32), y_test.astype(np.int64))
