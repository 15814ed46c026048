import numpy as np
import pytest
import sklearn.datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from lamina import datasets

CASES = [("digits", "classification", 64, 10), ("breast_cancer", "classification", 30, 2),
         ("iris", "classification", 4, 3), ("wine", "classification", 13, 3), ("diabetes", "regression", 10, None)]


@pytest.mark.parametrize("name, task, n_features, n_classes", CASES)
def test_bundled_dataset_split_types_and_scaling(name, task, n_features, n_classes):
    split = datasets.load(name, test_size=0.25, seed=3)
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    n = len(bunch.target)
    assert split.name == name and split.task == task
    assert split.n_features == n_features == len(split.feature_names) and split.n_classes == n_classes
    assert split.X_train.dtype == split.X_test.dtype == np.float32
    assert len(split.X_train) + len(split.X_test) == n and len(split.X_test) == int(np.ceil(0.25 * n))
    # the same split and scaling as scikit-learn's own tools, scaler fitted on the training part only
    x_train, x_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.25, random_state=3,
        stratify=bunch.target if task == "classification" else None)
    scaler = StandardScaler().fit(x_train)
    np.testing.assert_allclose(split.X_train.array, scaler.transform(x_train), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(split.X_test.array, scaler.transform(x_test), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(split.scaler.mean_, scaler.mean_)
    if task == "classification":
        assert split.y_train.dtype == np.int64 and split.y_train.shape == (len(x_train),)
        assert split.y_test.tolist() == y_test.tolist()
        assert split.target_names == tuple(str(t) for t in bunch.target_names)
    else:
        assert split.y_train.dtype == np.float32 and split.y_train.shape == (len(x_train), 1)
        np.testing.assert_allclose(split.y_test.array[:, 0], y_test, rtol=1e-6)


def test_unscaled_load_keeps_raw_features_and_seed_changes_split():
    raw = datasets.load("iris", scale=False)
    assert raw.scaler is None and raw.X_train.array.min() >= 0  # raw centimetres
    assert not np.array_equal(datasets.load("iris", seed=1).y_train.array, datasets.load("iris", seed=2).y_train.array)


def test_unknown_name_and_bad_options():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose one of xor, spirals, house, shapes, "
                                         "digits, breast_cancer, iris, wine, diabetes, mnist, fashion_mnist"):
        datasets.load("cifar")
    with pytest.raises(TypeError, match=r"load\('iris'\) takes no options, got \['n'\]"):
        datasets.load("iris", n=3)
    with pytest.raises(ValueError, match="iris: cannot split 150 samples with test_size=1.5"):
        datasets.load("iris", test_size=1.5)
