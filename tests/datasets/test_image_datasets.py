"""Image datasets as (N, C, H, W): lamina's generated shapes, the 8×8 digits as images, MNIST-style IDX files."""

import time

import numpy as np
import pytest

from lamina import datasets
from lamina.datasets.shapes import SHAPE_CLASSES, shapes


def test_shapes_are_float32_images_with_balanced_classes():
    x, y = shapes(n=60, seed=0)
    assert x.shape == (60, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= x.array.min() and x.array.max() <= 1.0
    assert np.bincount(y.array).tolist() == [10] * len(SHAPE_CLASSES)
    assert y.array[:7].tolist() == [0, 1, 2, 3, 4, 5, 0]  # classes in turn


def test_shapes_are_seeded_and_options_apply():
    a, b, c = shapes(n=12, seed=3), shapes(n=12, seed=3), shapes(n=12, seed=4)
    assert np.array_equal(a[0].array, b[0].array) and not np.array_equal(a[0].array, c[0].array)
    x, y = shapes(n=8, size=16, classes=("circle", "cross"), noise=0.0)
    assert x.shape == (8, 1, 16, 16) and set(y.tolist()) == {0, 1}


def test_shapes_are_drawn_where_they_should_be():
    """Without noise, a circle's ink covers π r² pixels around its centre; a ring has a hole in the middle."""
    x, y = shapes(n=400, classes=("circle", "ring"), noise=0.0, seed=1)
    images = x.array[:, 0]
    ink = images - images.min(axis=(1, 2), keepdims=True)  # background removed
    ink /= ink.max(axis=(1, 2), keepdims=True)
    rows, cols = np.mgrid[0:28, 0:28] + 0.5
    mass = ink.sum(axis=(1, 2))
    centre = np.stack([(ink * cols).sum(axis=(1, 2)), (ink * rows).sum(axis=(1, 2))], 1) / mass[:, None]
    # position varies: the centres spread over the image, so no single pixel tells the class
    assert centre.std(axis=0).min() > 3.0
    circles, rings = y.array == 0, y.array == 1
    # radius from the area of a disc: sqrt(area / π) lies in [0.2, 0.4]·28 (the soft edge adds a little)
    radius = np.sqrt(mass[circles] / np.pi)
    assert 0.2 * 28 - 0.5 < radius.min() and radius.max() < 0.4 * 28 + 0.5
    middle = ink[np.arange(len(ink)), centre[:, 1].astype(int), centre[:, 0].astype(int)]
    assert middle[circles].min() > 0.9 and np.median(middle[rings]) < 0.1


def test_shapes_drawing_is_vectorised():
    shapes(n=10)
    start = time.perf_counter()
    shapes(n=3000)
    assert time.perf_counter() - start < 3.0  # ~0.3 s: whole-array NumPy, no loop over pixels


def test_shapes_bad_arguments():
    with pytest.raises(ValueError, match="classes must be two or more distinct names"):
        shapes(classes=("circle", "hexagon"))
    with pytest.raises(ValueError, match="min_radius"):
        shapes(min_radius=0.6, max_radius=0.7)


def test_load_images_shapes_split_and_normalize():
    split = datasets.load_images("shapes", n=100, seed=2)
    assert split.X_train.shape == (80, 1, 28, 28) and split.X_test.shape == (20, 1, 28, 28)
    assert split.n_features == 784 and split.target_names == SHAPE_CLASSES and split.n_classes == 6
    x, _ = shapes(n=100, seed=2)
    np.testing.assert_array_equal(np.concatenate([split.X_train.array, split.X_test.array]), x.array)
    norm = datasets.load_images("shapes", n=100, seed=2, normalize=True)
    mean, std = norm.scaler["mean"][0], norm.scaler["std"][0]
    assert mean == pytest.approx(split.X_train.array.mean(), rel=1e-5)
    np.testing.assert_allclose(norm.X_test.array, (split.X_test.array - mean) / std, rtol=1e-5, atol=1e-6)
    assert abs(norm.X_train.array.mean()) < 1e-4 and norm.X_train.array.std() == pytest.approx(1.0, rel=1e-3)


def test_load_shapes_flat_for_an_mlp():
    flat = datasets.load("shapes", n=100, seed=2, scale=False)
    images = datasets.load_images("shapes", n=100, seed=2)
    assert flat.X_train.shape == (80, 784) and flat.n_features == 784
    np.testing.assert_array_equal(flat.X_train.array, images.X_train.array.reshape(80, -1))


def test_digits_as_images_are_the_same_split_as_the_flat_digits():
    images = datasets.load_images("digits")
    flat = datasets.load("digits", scale=False)
    assert images.X_train.shape == (1437, 1, 8, 8) and images.X_train.dtype == np.float32
    assert 0.0 <= images.X_train.array.min() and images.X_train.array.max() == 1.0
    np.testing.assert_allclose(images.X_train.array.reshape(1437, 64) * 16, flat.X_train.array)
    np.testing.assert_array_equal(images.y_test.array, flat.y_test.array)
    assert images.target_names == tuple(str(d) for d in range(10))


def write_idx(path, array):
    header = b"\0\0\x08" + bytes([array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_mnist_style_files_as_images(tmp_path, name):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    split = datasets.load_images(name, root=tmp_path, download=False)
    assert split.X_train.shape == (12, 1, 28, 28) and split.X_test.shape == (5, 1, 28, 28)
    flat = datasets.load(name, root=tmp_path, download=False, scale=False)
    np.testing.assert_array_equal(split.X_test.array.reshape(5, -1), flat.X_test.array)
    with pytest.raises(FileNotFoundError, match="download=False"):
        datasets.load_images(name, root=tmp_path / "empty", download=False)


def test_load_images_unknown_name():
    with pytest.raises(ValueError, match="unknown image dataset 'iris'"):
        datasets.load_images("iris")
