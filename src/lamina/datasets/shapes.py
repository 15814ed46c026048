"""``shapes``: a generated image dataset of lamina's own. Geometric shapes drawn at random positions, sizes and
rotations on a noisy background, one shape per image, in (N, 1, size, size) float32 images with values in [0, 1].

Where a shape sits varies from image to image, so a pixel says little on its own: a convolutional network, whose
filters slide over the image and whose pooling forgets small shifts, learns the classes from far fewer examples
than a multilayer perceptron of the same size, which must learn each shape at each position separately.

Every shape is drawn at once for all images of its class: each pixel's centre is moved into the shape's own
frame (shifted to its centre, rotated, divided by its size), where the shape is a fixed region given by a signed
distance d (negative inside). The pixel's ink is clip(0.5 − d·size, 0, 1): 1 inside, 0 outside, and a one-pixel
soft edge between them, so small shapes keep their form.
"""

from __future__ import annotations

import numpy as np

from lamina.factories import from_numpy
from lamina.tensor import Tensor

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "ring", "star")


def _signed_distance(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The signed distance (in units of the shape's radius; negative inside) of the points (u, v) of the
    shape's own frame to a shape of radius 1 centred at the origin. Exact for the circle and the ring; a
    distance-like function with the right zero set for the others (enough for a one-pixel soft edge)."""
    if kind == "circle":
        return np.hypot(u, v) - np.float32(1.0)
    if kind == "ring":  # an outline: the band between radius 0.65 and 1
        return np.abs(np.hypot(u, v) - 0.825) - 0.175
    if kind == "square":  # half-side 0.7: its corners just inside the unit circle
        return np.maximum(np.abs(u), np.abs(v)) - 0.7
    if kind == "triangle":  # equilateral, vertices on the unit circle: three half-planes at distance 1/2
        angles = np.pi / 2 + np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3], dtype=np.float32)
        faces = u[..., None] * np.cos(angles + np.pi) + v[..., None] * np.sin(angles + np.pi)
        return faces.max(axis=-1) - 0.5
    if kind == "cross":  # a plus sign: two bars of half-width 0.25
        bar_h = np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.25)
        bar_v = np.maximum(np.abs(v) - 1.0, np.abs(u) - 0.25)
        return np.minimum(bar_h, bar_v)
    if kind == "star":  # five points: radius between 0.45 and 1 with the angle
        angle = np.arctan2(v, u)
        reach = 0.45 + 0.55 * np.abs(np.cos(2.5 * angle)) ** 3
        return np.hypot(u, v) - reach
    raise ValueError(f"unknown shape {kind!r}; choose from {', '.join(SHAPE_CLASSES)}")


def shapes(n: int = 3000, size: int = 28, classes=SHAPE_CLASSES, noise: float = 0.1, min_radius: float = 0.2,
           max_radius: float = 0.4, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` images (n, 1, size, size) float32 in [0, 1] and their labels (n,) int64, ``classes[label]``.

    Classes in turn (image i shows class i mod len(classes)), each drawn with a radius uniform in
    [min_radius, max_radius]·size, a centre uniform over the places where the whole shape fits, a uniform
    rotation, and a brightness uniform in [0.6, 1] on a background of brightness uniform in [0, 0.2]; then
    Gaussian noise of standard deviation ``noise`` is added and the values are clipped to [0, 1].
    ``classes`` may be any subset of ``SHAPE_CLASSES``. The same ``seed`` gives the same images.
    """
    classes = tuple(classes)
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"shapes: classes must be two or more distinct names from {', '.join(SHAPE_CLASSES)}, "
                         f"got {classes}")
    if n < 1 or size < 8 or noise < 0 or not 0 < min_radius <= max_radius <= 0.5:
        raise ValueError(f"shapes: need n >= 1, size >= 8, noise >= 0 and 0 < min_radius <= max_radius <= 0.5, "
                         f"got n={n}, size={size}, noise={noise}, min_radius={min_radius}, max_radius={max_radius}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int64) % len(classes)
    radius = (rng.uniform(min_radius, max_radius, n) * size).astype(np.float32)
    centre = rng.uniform(radius[:, None], size - radius[:, None], (n, 2)).astype(np.float32)  # the shape fits
    angle = rng.uniform(0.0, 2 * np.pi, n).astype(np.float32)
    ink = rng.uniform(0.6, 1.0, n).astype(np.float32)
    background = rng.uniform(0.0, 0.2, n).astype(np.float32)

    pixel = np.arange(size, dtype=np.float32) + np.float32(0.5)  # pixel centres
    dx = pixel[None, None, :] - centre[:, 0, None, None]  # (n, 1, size): columns
    dy = pixel[None, :, None] - centre[:, 1, None, None]  # (n, size, 1): rows
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    r = radius[:, None, None]
    u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r  # (n, size, size) in each shape's frame

    coverage = np.empty((n, size, size), dtype=np.float32)
    for k, kind in enumerate(classes):  # one vectorised drawing per class
        mask = labels == k
        coverage[mask] = np.clip(0.5 - _signed_distance(kind, u[mask], v[mask]) * r[mask], 0.0, 1.0)
    images = background[:, None, None] + (ink - background)[:, None, None] * coverage
    images += np.float32(noise) * rng.standard_normal(images.shape, dtype=np.float32)
    images = np.clip(images, 0.0, 1.0, out=images)[:, None]
    return from_numpy(images), from_numpy(labels)
