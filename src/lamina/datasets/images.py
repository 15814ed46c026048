"""Image datasets as (N, C, H, W) float32 arrays with values in [0, 1], for convolutional networks.

``load_images(name)`` returns the same ``DatasetSplit`` as ``load(name)`` but with images instead of flat feature
rows, and without standardisation unless asked (``normalize=True`` subtracts the training images' mean and
divides by their standard deviation, one pair per channel, as ``transforms.Normalize``; the pair is in
``split.scaler``).
"""

from __future__ import annotations

import numpy as np

from lamina.datasets.idx import FASHION_MNIST_CLASSES, default_root, fashion_mnist, mnist
from lamina.datasets.shapes import SHAPE_CLASSES, shapes
from lamina.datasets.tabular import CLASSIFICATION, DatasetSplit
from lamina.factories import from_numpy

IMAGE_DATASETS = ("shapes", "digits", "mnist", "fashion_mnist")
DIGITS_MAX = 16.0  # scikit-learn's 8×8 digits count ink in 0..16 per pixel


def _stratified(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split  # scikit-learn takes ~1 s to import: on first use

    return train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed, stratify=y)


def image_arrays(name: str, test_size: float = 0.2, seed: int = 0, **options):
    """(x_train, y_train, x_test, y_test, class names): the raw images (N, C, H, W) float32 in [0, 1]."""
    if not 0 < test_size < 1:
        raise ValueError(f"{name}: test_size must be between 0 and 1, got {test_size}")
    if name == "shapes":
        if "seed" in options:
            raise TypeError("load_images('shapes'): the images follow seed=; do not pass it twice")
        x, y = (t.array for t in shapes(seed=seed, **options))
        # independent draws with the classes in turn: the last images are a balanced test part as they are
        n_test = max(1, round(test_size * len(y)))
        if n_test >= len(y):
            raise ValueError(f"shapes: cannot split {len(y)} images with test_size={test_size}")
        return x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:], tuple(options.get("classes", SHAPE_CLASSES))
    if name == "digits":
        if options:
            raise TypeError(f"load_images('digits') takes no options, got {sorted(options)}")
        import sklearn.datasets  # as above

        bunch = sklearn.datasets.load_digits()
        x = (bunch.images / DIGITS_MAX).astype(np.float32)[:, None]
        y, classes = bunch.target.astype(np.int64), tuple(str(c) for c in bunch.target_names)
        try:
            train, test = _stratified(y, test_size, seed)
        except ValueError as err:
            raise ValueError(f"{name}: cannot split {len(y)} images with test_size={test_size}: {err}") from None
        return x[train], y[train], x[test], y[test], classes
    if name in ("mnist", "fashion_mnist"):
        fetch = mnist if name == "mnist" else fashion_mnist
        root = options.pop("root", None) or default_root(name)
        x_train, y_train = (t.array for t in fetch(root, train=True, **options))
        x_test, y_test = (t.array for t in fetch(root, train=False, **options))
        classes = FASHION_MNIST_CLASSES if name == "fashion_mnist" else tuple(str(d) for d in range(10))
        return x_train[:, None], y_train, x_test[:, None], y_test, classes
    raise ValueError(f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_DATASETS)}")


def load_images(name: str, test_size: float = 0.2, seed: int = 0, normalize: bool = False,
                **options) -> DatasetSplit:
    """A named image dataset split into train and test parts: X as (N, C, H, W) float32, y as int64 labels.

    Names: 'shapes' (lamina's generated shapes, 1×28×28; ``options`` go to ``datasets.shapes``, which draws
    with ``seed``; the last ``test_size`` of the images are the test part: they are independent draws with the
    classes in turn, so both parts are balanced), 'digits' (scikit-learn's 8×8 handwritten digits as 1×8×8
    images, ink 0..16 scaled to [0, 1], split like ``load('digits')``: stratified by ``seed``, the same
    images); 'mnist' and 'fashion_mnist' (the
    official train/test IDX files as 1×28×28 images; ``options``: root=default_root(name), download=True,
    verify=True). Pixels are in [0, 1]; with ``normalize`` each channel is standardised by the mean and
    standard deviation of the training images (``split.scaler`` = {'mean': [...], 'std': [...]}).
    ``n_features`` is C·H·W and ``feature_names`` name the pixels ('pixel_c_row_col').
    """
    x_train, y_train, x_test, y_test, classes = image_arrays(name, test_size, seed, **options)
    scaler = None
    if normalize:
        axes = (0, 2, 3)
        mean = x_train.mean(axis=axes, dtype=np.float64)
        std = x_train.std(axis=axes, dtype=np.float64)
        std = np.where(std > 0, std, 1.0)
        scaler = {"mean": mean.tolist(), "std": std.tolist()}
        shift, scale = mean.astype(np.float32)[:, None, None], std.astype(np.float32)[:, None, None]
        x_train, x_test = (x_train - shift) / scale, (x_test - shift) / scale
    c, h, w = x_train.shape[1:]
    pixels = tuple(f"pixel_{k}_{r}_{q}" for k in range(c) for r in range(h) for q in range(w))
    return DatasetSplit(name=name, X_train=from_numpy(np.ascontiguousarray(x_train, dtype=np.float32)),
                        X_test=from_numpy(np.ascontiguousarray(x_test, dtype=np.float32)),
                        y_train=from_numpy(y_train.astype(np.int64)), y_test=from_numpy(y_test.astype(np.int64)),
                        task=CLASSIFICATION, n_features=c * h * w, n_classes=len(classes), feature_names=pixels,
                        target_names=tuple(str(k) for k in classes), scaler=scaler)
