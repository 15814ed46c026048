"""lamina.sklearn.parts and the run-config helpers of lamina.sklearn.mlp: the optimizer and loss by name, the
forward pass that predictions come from, class labels from outputs, scores, and the target scaler. The estimators
and the ``lamina`` command both use these (tests/cli/test_cli_estimator.py shows the two train alike)."""

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

import lamina
from lamina import nn, optim
from lamina.sklearn import LaminaClassifier
from lamina.sklearn.mlp import fit_target_scaler, predictions, scale_targets, targets, unscale_targets
from lamina.sklearn.parts import BLOCK, make_loss, make_optimizer, outputs, predicted_classes, scores

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def test_make_optimizer_by_name_or_class():
    params = list(nn.Linear(3, 2).parameters())
    sgd = make_optimizer("Momentum", params, 0.1, 0.01)
    assert type(sgd) is optim.SGD
    assert {k: sgd.param_groups[0][k] for k in ("lr", "momentum", "weight_decay")} == {
        "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}
    assert make_optimizer("sgd", params, 0.1).param_groups[0]["momentum"] == 0
    adam = make_optimizer(optim.Adam, params, 1e-3, betas=(0.8, 0.9))
    assert type(adam) is optim.Adam and adam.param_groups[0]["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; choose from sgd, momentum, adam"):
        make_optimizer("adamm", params, 0.1)
    with pytest.raises(TypeError, match="not LBFGS"):
        make_optimizer(optim.LBFGS, params, 0.1)
    with pytest.raises(TypeError, match="optimizer SGD does not take these arguments"):
        make_optimizer("sgd", params, 0.1, betas=(0.9, 0.9))


def test_make_loss_by_name_class_or_module():
    assert type(make_loss("cross_entropy")) is nn.CrossEntropyLoss and type(make_loss(nn.L1Loss)) is nn.L1Loss
    huber = nn.HuberLoss(delta=2.0)
    assert make_loss(huber) is huber
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        make_loss("hinge")
    with pytest.raises(TypeError, match="got int"):
        make_loss(3)


def test_outputs_of_a_sample_do_not_depend_on_the_batch_and_match_torch():
    """Images too (the command's CNN runs predict through it): blocks of BLOCK, the last one padded."""
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 5, 4))
    X = np.random.default_rng(0).normal(size=(BLOCK + 7, 2, 5, 5)).astype(np.float32)
    out = outputs(model, X)
    assert out.shape == (BLOCK + 7, 4) and out.dtype == np.float64
    for i in (0, 5, BLOCK, BLOCK + 6):
        np.testing.assert_array_equal(outputs(model, X[i:i + 1])[0], out[i])
    np.testing.assert_array_equal(outputs(model, X[3:40]), out[3:40])
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(75, 4))
    ref.load_state_dict({k: torch.from_numpy(v.array.copy()) for k, v in model.state_dict().items()})
    with torch.no_grad():
        np.testing.assert_allclose(out, ref(torch.from_numpy(X)).double().numpy(), rtol=1e-5, atol=1e-6)


def test_predicted_classes_and_scores_agree_with_scikit_learn():
    out = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0], [1.0, 1.5, 0.0], [2.0, 1.0, 0.0]])
    np.testing.assert_array_equal(predicted_classes(out), [1, 0, 2, 1, 0])
    np.testing.assert_array_equal(predicted_classes(out, np.array(["ant", "bee", "cat"])),
                                  ["bee", "ant", "cat", "bee", "ant"])
    y = np.array([1, 0, 1, 1, 2])
    got = scores("classification", y, predicted_classes(out))
    assert got == pytest.approx({"accuracy": 0.6, "f1_macro": skm.f1_score(y, [1, 0, 2, 1, 0], average="macro")},
                                rel=1e-12)
    t, p = np.array([3.0, -1.0, 2.5, 7.0]), np.array([2.5, 0.0, 2.0, 8.0])
    assert scores("regression", t, p) == pytest.approx(
        {"r2": skm.r2_score(t, p), "mse": skm.mean_squared_error(t, p), "mae": skm.mean_absolute_error(t, p)},
        rel=1e-12)


def test_the_estimator_predicts_and_scores_through_the_same_parts():
    X = np.random.default_rng(1).normal(size=(90, 4)).astype(np.float32)
    y = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    clf = LaminaClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0).fit(X, y)
    out = outputs(clf.module_, X)
    np.testing.assert_array_equal(clf.predict(X), predicted_classes(out, clf.classes_))
    index = np.searchsorted(clf.classes_, y)
    assert clf.score(X, y) == scores("classification", index, predicted_classes(out))["accuracy"]


def test_the_target_scaler_of_a_run():
    y = np.array([1.0, 2.0, 4.0, 9.0])
    config = {"task": "regression", **fit_target_scaler(y)}
    assert config["target_scaler"] == {"mean": 4.0, "scale": pytest.approx(np.sqrt(9.5), rel=1e-15)}
    z = scale_targets(y, config)
    assert z.shape == (4, 1) and z.dtype == np.float32
    np.testing.assert_allclose(z[:, 0], (y - 4.0) / np.sqrt(9.5), rtol=1e-6)
    assert targets(y, config).tolist() == z.tolist()
    np.testing.assert_allclose(unscale_targets(z, config), y, rtol=1e-6)
    np.testing.assert_allclose(predictions(z, config), y, rtol=1e-6)
    assert fit_target_scaler([3.0, 3.0])["target_scaler"] == {"mean": 3.0, "scale": 1.0}  # a constant target
    classes = {"task": "classification"}
    assert targets(np.array([2, 0]), classes).tolist() == [2, 0]
    np.testing.assert_array_equal(predictions(np.array([[0.0, 1.0], [2.0, 1.0]]), classes), [1, 0])
