import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import lamina
from lamina import datasets


def test_xor_is_the_truth_table():
    x, y = datasets.xor()
    assert x.dtype == np.float32 and x.shape == (4, 2) and y.dtype == np.int64
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == [0, 1, 1, 0]
    assert (np.logical_xor(x.array[:, 0], x.array[:, 1]) == y.array).all()
    linear = LogisticRegression().fit(x.array, y.array)
    assert linear.score(x.array, y.array) < 1.0  # not linearly separable


def test_spirals_geometry_and_seed():
    x, y = datasets.spirals(n_per_class=50, n_classes=3, noise=0.0)
    assert x.shape == (150, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y.array).tolist() == [50, 50, 50]
    radius = np.linalg.norm(x.array, axis=1)
    np.testing.assert_allclose(radius, np.tile(np.linspace(0, 1, 50), 3), atol=1e-6)
    # without noise, the last point of arm k sits at angle 4 + 2πk/3
    last = x.array[49::50]
    np.testing.assert_allclose(np.arctan2(last[:, 0], last[:, 1]) % (2 * np.pi),
                               (4 + 2 * np.pi * np.arange(3) / 3) % (2 * np.pi), atol=1e-5)
    a, b, c = datasets.spirals(seed=1), datasets.spirals(seed=1), datasets.spirals(seed=2)
    assert np.array_equal(a[0].array, b[0].array) and not np.array_equal(a[0].array, c[0].array)
    noisy_x, noisy_y = datasets.spirals()
    assert LogisticRegression().fit(noisy_x.array, noisy_y.array).score(noisy_x.array, noisy_y.array) < 0.7


def test_spirals_bad_arguments():
    with pytest.raises(ValueError, match="n_classes >= 2"):
        datasets.spirals(n_classes=1)


def test_house_prices_are_zero_below_threshold_then_linear():
    x, y = datasets.house_prices(n=400, seed=0)
    assert x.shape == y.shape == (400, 1) and x.dtype == y.dtype == np.float32
    size, price = x.array[:, 0].astype(np.float64), y.array[:, 0].astype(np.float64)
    assert price.min() == 0.0
    assert (price[size < 0.5] == 0).all() and (price[size > 1.2] > 0).all()
    relu_feature = np.maximum(0, size - 0.8)[:, None]
    relu_fit = LinearRegression().fit(relu_feature, price)
    np.testing.assert_allclose(relu_fit.coef_, [1.5], atol=0.05)
    relu_mse = np.mean((relu_fit.predict(relu_feature) - price) ** 2)
    line = LinearRegression().fit(size[:, None], price)
    line_pred = line.predict(size[:, None])
    assert np.mean((line_pred - price) ** 2) > 3 * relu_mse  # a straight line fits badly...
    assert line_pred.min() < 0  # ...and predicts negative prices for small houses
    assert np.array_equal(datasets.house_prices(seed=3)[1].array, datasets.house_prices(seed=3)[1].array)


def test_load_serves_synthetic_sets():
    split = datasets.load("xor")
    assert split.X_train.tolist() == split.X_test.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert split.task == "classification" and split.n_classes == 2 and split.n_features == 2
    spiral = datasets.load("spirals", n_per_class=40, n_classes=4)
    assert spiral.X_train.shape == (128, 2) and spiral.X_test.shape == (32, 2) and spiral.n_classes == 4
    assert np.bincount(spiral.y_test.array).tolist() == [8, 8, 8, 8]  # stratified
    house = datasets.load("house", test_size=0.25, n=100)
    assert house.task == "regression" and house.n_classes is None and house.y_train.shape == (75, 1)
    assert house.feature_names == ("size",) and house.target_names == ("price",)
    np.testing.assert_allclose(house.X_train.array.mean(), 0, atol=1e-6)


def test_tensor_dataset_accepts_loaded_split():
    split = datasets.load("iris")
    loader = lamina.data.DataLoader(lamina.data.TensorDataset(split.X_train, split.y_train), batch_size=32)
    x, y = next(iter(loader))
    assert x.shape == (32, 4) and x.dtype == np.float32 and y.dtype == np.int64
