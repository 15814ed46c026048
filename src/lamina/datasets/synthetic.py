"""Small generated datasets from the textbook: XOR, spirals, house prices. Each returns (X, y) Tensors."""

from __future__ import annotations

import numpy as np

from lamina.factories import from_numpy
from lamina.tensor import Tensor


def xor() -> tuple[Tensor, Tensor]:
    """The XOR truth table: X (4, 2) float32 holds (0,0), (0,1), (1,0), (1,1); y (4,) int64 is x1 XOR x2.
    No straight line separates the two classes, so a model needs a hidden layer."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return from_numpy(x), from_numpy(np.array([0, 1, 1, 0], dtype=np.int64))


def spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Interleaved spiral arms in the plane, one per class.

    Point i of arm k lies at radius r = i / (n_per_class − 1) and angle θ = 4r + 2πk / n_classes + noise·ε
    (ε standard normal), at (x, y) = r·(sin θ, cos θ). Returns X (n_classes·n_per_class, 2) float32 and
    y int64 (arm k's points are labelled k, in order).
    """
    if n_per_class < 2 or n_classes < 2 or noise < 0:
        raise ValueError(f"spirals: need n_per_class >= 2, n_classes >= 2 and noise >= 0, got n_per_class="
                         f"{n_per_class}, n_classes={n_classes}, noise={noise}")
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n_per_class)
    arm = np.arange(n_classes)[:, None]
    angle = 4 * radius + 2 * np.pi * arm / n_classes + noise * rng.standard_normal((n_classes, n_per_class))
    x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=-1).reshape(-1, 2)
    return from_numpy(x.astype(np.float32)), from_numpy(np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class))


HOUSE_SLOPE, HOUSE_THRESHOLD, HOUSE_NOISE = 1.5, 0.8, 0.1


def house_prices(n: int = 200, seed: int = 0) -> tuple[Tensor, Tensor]:
    """House price against size, the textbook's example of a ReLU: a straight line fitted to it would predict
    negative prices for small houses, so the price is cut off at zero.

    size ~ Uniform(0.2, 3.0) (thousands of square feet); price = max(0, 1.5·(size − 0.8) + 0.1·ε) (hundreds of
    thousands of dollars, ε standard normal): zero below a size of about 0.8, then linear.
    Returns X = size (n, 1) float32 and y = price (n, 1) float32.
    """
    if n < 1:
        raise ValueError(f"house_prices: n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    size = rng.uniform(0.2, 3.0, size=(n, 1))
    price = np.maximum(0.0, HOUSE_SLOPE * (size - HOUSE_THRESHOLD) + HOUSE_NOISE * rng.standard_normal((n, 1)))
    return from_numpy(size.astype(np.float32)), from_numpy(price.astype(np.float32))
