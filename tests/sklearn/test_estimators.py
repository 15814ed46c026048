"""LaminaClassifier and LaminaRegressor inside scikit-learn's tools: Pipeline, searches, cross-validation, string
labels, DataFrames; prefix routing, pickling as arrays, bit-reproducible fits, and the same weights as lamina.fit."""

import io
import pickle
import pickletools

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lamina
from lamina import nn, optim
from lamina.sklearn import LaminaClassifier, LaminaRegressor, mlp

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600].astype(np.float64), y[:600]


def weights(est):
    return {k: v.array.copy() for k, v in est.module_.state_dict().items()}


def test_pipeline_learns_digits_and_scores(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), LaminaClassifier(hidden_layer_sizes=(64,), epochs=15, lr=3e-3,
                                                           random_state=0))
    pipe.fit(X[:450], y[:450])
    assert pipe.score(X[450:], y[450:]) > 0.85  # scikit-learn's MLPClassifier (same settings): 0.83
    proba = pipe.predict_proba(X[450:])
    assert proba.shape == (150, 10) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(pipe.predict(X[450:]), pipe.classes_[proba.argmax(1)])
    np.testing.assert_allclose(np.exp(pipe.predict_log_proba(X[450:])), proba, rtol=1e-10)
    clf = pipe[-1]
    assert clf.n_features_in_ == 64 and list(clf.classes_) == list(range(10))
    assert len(clf.history_["loss"]) == 15 and clf.history_["loss"][-1] < clf.history_["loss"][0]


def test_fit_is_lamina_fit_bit_for_bit(digits):
    """The estimator is a thin layer: its weights equal a hand-made model trained by lamina.fit from the same seed."""
    X, y = digits
    Xs = StandardScaler().fit_transform(X).astype(np.float32)
    est = LaminaClassifier(hidden_layer_sizes=(32,), epochs=3, batch_size=16, lr=3e-3, random_state=7).fit(Xs, y)
    lamina.manual_seed(7)
    model = mlp(64, 10, hidden=(32,))
    lamina.fit(model, (Xs, y), loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=3e-3),
               epochs=3, batch_size=16, progress=False, health=False)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(weights(est)[key], value.array, err_msg=key)


def test_random_state_makes_fit_bit_reproducible_and_leaves_the_global_stream(digits):
    X, y = digits
    lamina.manual_seed(123)
    before = lamina.random.get_rng_state()
    make = dict(hidden_layer_sizes=(16,), dropout=0.2, epochs=2, validation_fraction=0.2, random_state=3)
    a, b = LaminaClassifier(**make).fit(X, y), LaminaClassifier(**make).fit(X, y)
    assert lamina.random.get_rng_state() == before and lamina.initial_seed() == 123
    for key, value in weights(a).items():
        np.testing.assert_array_equal(value, weights(b)[key])
    same = ("loss", "accuracy", "val_loss", "val_accuracy")
    assert [a.history_[k] for k in same] == [b.history_[k] for k in same]
    c = LaminaClassifier(**{**make, "random_state": 4}).fit(X, y)
    assert not np.array_equal(weights(c)["0.weight"], weights(a)["0.weight"])


def test_string_labels_and_validation_history(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = LaminaClassifier(hidden_layer_sizes=(32,), epochs=8, validation_fraction=0.25, random_state=0)
    clf.fit(StandardScaler().fit_transform(X), names[y])
    assert list(clf.classes_) == sorted(names)
    assert set(clf.predict(StandardScaler().fit_transform(X)[:20])) <= set(names)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(clf.history_.history)
    assert clf.history_["val_accuracy"][-1] > 0.8


def test_early_stopping_restores_the_best_epoch(digits):
    X, y = digits
    clf = LaminaClassifier(hidden_layer_sizes=(64,), epochs=200, lr=0.05, early_stopping=True, patience=3,
                           random_state=0).fit(StandardScaler().fit_transform(X), y)
    val = clf.history_["val_loss"]
    assert len(val) < 200  # stopped
    assert int(np.argmin(val)) == len(val) - 1 - 3  # three epochs without a better validation loss


def test_grid_search_routes_module_and_optimizer_arguments(digits):
    X, y = digits
    X = StandardScaler().fit_transform(X)
    grid = GridSearchCV(LaminaClassifier(epochs=10, random_state=0),
                        {"module__hidden": [(8,), (32, 16)], "optimizer__betas": [(0.9, 0.999), (0.8, 0.99)]}, cv=2)
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    best = grid.best_estimator_
    assert best.get_params()["module__hidden"] in [(8,), (32, 16)]
    widths = [m.out_features for m in best.module_.modules() if isinstance(m, nn.Linear)][:-1]
    assert tuple(widths) == best.module__hidden
    assert best.optimizer_.param_groups[0]["betas"] == best.optimizer__betas
    assert best.score(X, y) > 0.8


def test_randomized_search_and_cross_val_score(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), LaminaClassifier(epochs=5, random_state=0))
    search = RandomizedSearchCV(pipe, {"laminaclassifier__lr": [1e-3, 3e-3, 1e-2],
                                       "laminaclassifier__optimizer": ["adam", "momentum", "rmsprop"]},
                                n_iter=3, cv=2, random_state=0).fit(X, y)
    assert len(search.cv_results_["params"]) == 3 and search.best_score_ > 0.8
    Xr, yr = make_regression(120, 5, random_state=0)
    scores = cross_val_score(LaminaRegressor(epochs=30, lr=1e-2, random_state=0), Xr, yr / yr.std(), cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9


def test_pandas_dataframes_keep_their_feature_names(digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    frame = pd.DataFrame(StandardScaler().fit_transform(X), columns=[f"pixel{i}" for i in range(64)])
    clf = LaminaClassifier(hidden_layer_sizes=(16,), epochs=5, random_state=0).fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(frame), clf.predict(frame.to_numpy()))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"pixel0": "other"}))


def test_sparse_input_is_refused_with_one_clear_line(digits):
    import scipy.sparse

    X, y = digits
    with pytest.raises(TypeError, match=r"dense input only, got a sparse csr_matrix: convert it with X.toarray\(\)"):
        LaminaClassifier(epochs=1).fit(scipy.sparse.csr_matrix(X), y)
    clf = LaminaClassifier(epochs=1, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="dense input only"):
        clf.predict(scipy.sparse.csr_array(X))


def test_pickle_stores_weights_as_arrays_and_predicts_the_same(digits):
    X, y = digits
    clf = LaminaClassifier(hidden_layer_sizes=(16,), batchnorm=True, epochs=3, random_state=0).fit(X, y)
    data = pickle.dumps(clf)
    globals_used = set()
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        if op.name in ("GLOBAL", "STACK_GLOBAL") and arg:
            globals_used.add(arg)
    ops = [arg for op, arg, _ in pickletools.genops(io.BytesIO(data)) if op.name in ("SHORT_BINUNICODE", "BINUNICODE")]
    assert "lamina.tensor" not in ops and "lamina.nn.linear" not in ops and "Tensor" not in ops
    assert "numpy" in " ".join(map(str, ops))  # the weights travel as NumPy arrays
    back = pickle.loads(data)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    for key, value in weights(clf).items():
        np.testing.assert_array_equal(weights(back)[key], value)
    back.partial_fit(X, y)  # the optimizer's state came along: training continues
    assert len(back.history_) == 4


class TwoLayer(nn.Module):
    def __init__(self, n_features, n_outputs, width=8):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_outputs))

    def forward(self, x):
        return self.body(x)


def test_module_class_or_builder_with_routed_arguments():
    X, y = make_regression(100, 4, n_targets=2, random_state=0)
    y = y / y.std(axis=0)
    reg = LaminaRegressor(TwoLayer, module__width=5, epochs=40, lr=1e-2, random_state=0).fit(X, y)
    assert reg.module_.body[0].weight.shape == (5, 4) and reg.predict(X).shape == (100, 2)
    assert reg.score(X, y) > 0.5

    def build(n_features, depth):
        return nn.Sequential(*[nn.Linear(n_features, n_features) for _ in range(depth)], nn.Linear(n_features, 1))

    reg = LaminaRegressor(build, module__depth=2, epochs=2).fit(X[:, :3], y[:, 0])
    assert len(reg.module_) == 3 and reg.predict(X[:, :3]).shape == (100,)
    with pytest.raises(TypeError, match="module=build could not be built from module__deep"):
        LaminaRegressor(build, module__deep=2).fit(X, y[:, 0])
    with pytest.raises(ValueError, match="has no parameter 'hiden'"):
        LaminaRegressor(hiden=3).fit(X, y[:, 0])
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        LaminaRegressor(optimizer="adamm").fit(X, y[:, 0])


def test_partial_fit_continues_and_needs_classes_first(digits):
    X, y = digits
    clf = LaminaClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:100], y[:100], classes=np.arange(10))
    first = weights(clf)["0.weight"]
    clf.partial_fit(X[100:], y[100:])
    assert len(clf.history_) == 2 and not np.array_equal(first, weights(clf)["0.weight"])
    with pytest.raises(ValueError, match="X has 63 features, but LaminaClassifier is expecting 64"):
        clf.partial_fit(X[:, 1:], y)
