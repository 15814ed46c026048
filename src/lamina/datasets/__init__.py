"""Datasets, all offline unless you ask for MNIST without its files: generated ones from the textbook (xor,
spirals, house_prices), lamina's generated images (shapes), scikit-learn's bundled tables, MNIST-style IDX
files, and CSV files; and sequences: a character corpus lamina generates from its own grammar, with a
tokenizer and windows for language models (``text``), and generated forecasting and order-classification
tasks (``sequences``).

``load(name)`` is the entry point for training on feature rows: it returns a ``DatasetSplit`` (X_train, X_test,
y_train, y_test as Tensors, float32 features, int64 labels or float32 (N, 1) targets, plus task, sizes and
names). ``load_images(name)`` returns the image datasets (shapes, digits, mnist, fashion_mnist) as
(N, C, H, W) images for convolutional networks.
"""

from __future__ import annotations

from lamina.datasets.idx import FASHION_MNIST_CLASSES, default_root, fashion_mnist, mnist, read_idx
from lamina.datasets.images import IMAGE_DATASETS, image_arrays, load_images
from lamina.datasets.sequences import order_task, sine_waves, sines
from lamina.datasets.shapes import SHAPE_CLASSES, shapes
from lamina.datasets.synthetic import house_prices, spirals, xor
from lamina.datasets.tabular import (
    CLASSIFICATION,
    REGRESSION,
    SKLEARN_LOADERS,
    DatasetSplit,
    load_csv,
    load_sklearn,
    make_split,
)
from lamina.datasets.text import CharTokenizer, CharWindows, TextCorpus, grammar_text, load_corpus

DATASETS = ("xor", "spirals", "house", "shapes", *SKLEARN_LOADERS, "mnist", "fashion_mnist")

__all__ = ["DATASETS", "DatasetSplit", "FASHION_MNIST_CLASSES", "IMAGE_DATASETS", "SHAPE_CLASSES", "fashion_mnist",
           "house_prices", "load", "load_csv", "load_images", "mnist", "read_idx", "shapes", "spirals", "xor",
           "CharTokenizer", "CharWindows", "TextCorpus", "grammar_text", "load_corpus", "order_task", "sine_waves",
           "sines"]


def load(name: str, test_size: float = 0.2, seed: int = 0, scale: bool = True, **options) -> DatasetSplit:
    """A named dataset split into train and test parts (scikit-learn's train_test_split, stratified for
    classification) and, with ``scale``, standardised by a StandardScaler fitted on the training part.

    Names: 'xor' (train and test are both the four points; never split or scaled), 'spirals' and 'house'
    (``options`` go to ``spirals``/``house_prices``), 'shapes' (lamina's generated 28×28 shapes, flattened to
    784 features in [0, 1]; ``options`` go to ``shapes``, which draws with ``seed``), 'digits', 'breast_cancer',
    'iris', 'wine', 'diabetes' (bundled with scikit-learn), 'mnist' and 'fashion_mnist' (the official train/test
    files, images flattened to 784 features in [0, 1]; ``options``: root=default_root(name), download=True,
    verify=True). ``load_images`` gives the image datasets as (N, C, H, W) images instead.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} (or use load_csv)")
    if options and name not in ("spirals", "house", "shapes", "mnist", "fashion_mnist"):
        raise TypeError(f"load({name!r}) takes no options, got {sorted(options)}")
    if name == "xor":
        x, y = xor()
        return DatasetSplit(name, x, x, y, y, CLASSIFICATION, 2, 2, ("x1", "x2"), ("0", "1"))
    if name == "spirals":
        x, y = spirals(**options)
        classes = tuple(str(k) for k in range(int(y.array.max()) + 1))
        return make_split(name, x.array, y.array, CLASSIFICATION, ("x", "y"), classes, test_size, seed, scale)
    if name == "house":
        x, y = house_prices(**options)
        return make_split(name, x.array, y.array[:, 0], REGRESSION, ("size",), ("price",), test_size, seed, scale)
    if name == "shapes":
        x_train, y_train, x_test, y_test, classes = image_arrays(name, test_size, seed, **options)
        pixels = [f"pixel_{r}_{c}" for r in range(x_train.shape[2]) for c in range(x_train.shape[3])]
        return make_split(name, x_train.reshape(len(x_train), -1), y_train, CLASSIFICATION, pixels, classes,
                          scale=scale, test=(x_test.reshape(len(x_test), -1), y_test))
    if name in SKLEARN_LOADERS:
        return load_sklearn(name, test_size, seed, scale)
    fetch = mnist if name == "mnist" else fashion_mnist
    root = options.pop("root", None) or default_root(name)
    x_train, y_train = fetch(root, train=True, **options)
    x_test, y_test = fetch(root, train=False, **options)
    classes = FASHION_MNIST_CLASSES if name == "fashion_mnist" else tuple(str(d) for d in range(10))
    pixels = [f"pixel_{r}_{c}" for r in range(x_train.shape[1]) for c in range(x_train.shape[2])]
    flat = [t.array.reshape(len(t.array), -1) for t in (x_train, x_test)]
    return make_split(name, flat[0], y_train.array, CLASSIFICATION, pixels, classes, scale=scale,
                      test=(flat[1], y_test.array))
