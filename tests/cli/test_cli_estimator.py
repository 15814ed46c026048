"""One implementation under the command and the estimators: a run that ``lamina train`` writes holds, bit for
bit, the network a ``LaminaClassifier`` / ``LaminaRegressor`` trains from the same seed and settings on the run's
scaled rows, and ``lamina predict`` and the run's metrics.json say what the estimator predicts and scores."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from lamina.cli.runs import _load_data, load_run
from lamina.sklearn import LaminaClassifier, LaminaRegressor
from lamina.sklearn.mlp import scale_rows, scale_targets, unscale_targets

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def estimator_for(config):
    """The estimator with a run's settings (what `lamina train` trained)."""
    cls = LaminaClassifier if config["task"] == "classification" else LaminaRegressor
    return cls(hidden_layer_sizes=config["hidden"], activation=config["activation"], dropout=config["dropout"],
               batchnorm=config["batchnorm"], epochs=config["epochs"], batch_size=config["batch_size"],
               optimizer=config["optimizer"], lr=config["lr"], weight_decay=config["weight_decay"],
               random_state=config["seed"])


def same_weights(model, estimator):
    mine = model.state_dict()
    theirs = estimator.module_.state_dict()
    assert list(mine) == list(theirs)
    for key, value in theirs.items():
        np.testing.assert_array_equal(value.array, mine[key].array, err_msg=key)


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


def test_a_classifier_run_is_the_estimator_trained_alike(tmp_path, cli):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3)).round(4) * [1.0, 10.0, 0.1] + [0.0, 50.0, 0.0]
    labels = np.array(["eel", "cat", "dog"])[(X[:, 0] > 0.3).astype(int) + (X[:, 1] > 52)]
    data = write_csv(tmp_path / "pets.csv", ["a", "b", "c", "pet"], [(*x, t) for x, t in zip(X, labels)])
    run = tmp_path / "run"
    code, _, _ = cli("train", "--csv", data, "--target", "pet", "--hidden", "8,4", "--dropout", "0.2", "--batchnorm",
                     "--optimizer", "momentum", "--lr", "0.05", "--epochs", "6", "--batch-size", "16", "--seed", "3",
                     "--out", run, "--quiet")
    assert code == 0
    config, model = load_run(run)
    split = _load_data(config["data"], config["seed"])
    names = np.array(config["class_names"])
    clf = estimator_for(config).fit(scale_rows(split["X_train"], config), names[split["y_train"]])
    assert list(clf.classes_) == ["cat", "dog", "eel"] == list(names)
    same_weights(model, clf)

    X_test = split["X_test"]
    code, _, _ = cli("predict", run, "--input", write_csv(tmp_path / "new.csv", ["a", "b", "c"], X_test),
                     "--output", tmp_path / "p.csv")
    assert code == 0
    said = (tmp_path / "p.csv").read_text().split()[1:]
    expected = clf.predict(scale_rows(X_test, config))
    assert said == list(expected)
    results = json.loads((run / "metrics.json").read_text())
    truth = names[split["y_test"]]
    assert results["accuracy"] == clf.score(scale_rows(X_test, config), truth)
    assert results["f1_macro"] == pytest.approx(skm.f1_score(truth, expected, average="macro"), rel=1e-12)


def test_a_regression_run_is_the_estimator_trained_alike(tmp_path, cli):
    run = tmp_path / "run"
    code, _, _ = cli("train", "--data", "diabetes", "--hidden", "8", "--epochs", "3", "--seed", "1", "--out", run,
                     "--quiet")
    assert code == 0
    config, model = load_run(run)
    split = _load_data(config["data"], config["seed"])
    reg = estimator_for(config).fit(scale_rows(split["X_train"], config),
                                    scale_targets(split["y_train"], config).reshape(-1))
    same_weights(model, reg)

    np.save(tmp_path / "new.npy", split["X_test"])
    code, _, _ = cli("predict", run, "--input", tmp_path / "new.npy", "--output", tmp_path / "p.npy")
    assert code == 0
    expected = unscale_targets(reg.predict(scale_rows(split["X_test"], config)), config)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected)
    np.save(tmp_path / "one.npy", split["X_test"][70:71])  # alone, a row gets the prediction it got among others
    code, _, _ = cli("predict", run, "--input", tmp_path / "one.npy", "--output", tmp_path / "p1.npy")
    assert code == 0 and np.load(tmp_path / "p1.npy").tolist() == [expected[70]]
    results = json.loads((run / "metrics.json").read_text())
    assert results["r2"] == pytest.approx(skm.r2_score(split["y_test"], expected), rel=1e-12)
    assert results["mae"] == pytest.approx(skm.mean_absolute_error(split["y_test"], expected), rel=1e-12)
