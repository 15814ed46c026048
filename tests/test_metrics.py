import numpy as np
import pytest
from sklearn import metrics as skm

import lamina
from lamina import metrics as M

rng = np.random.default_rng(0)


def random_classes(n=200, k=4, seed=0):
    r = np.random.default_rng(seed)
    y = r.integers(0, k, n)
    logits = r.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), y] += 1.0  # better than chance, not perfect
    return y, logits


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_sklearn_multiclass(seed):
    y, logits = random_classes(seed=seed)
    pred = logits.argmax(1)
    assert M.accuracy(y, logits) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert M.accuracy(lamina.tensor(y), lamina.tensor(logits)) == M.accuracy(y, pred)
    for k in (1, 2, 3):
        assert M.top_k_accuracy(y, logits, k=k) == pytest.approx(skm.top_k_accuracy_score(y, logits, k=k), abs=1e-12)
    for ours, theirs in [(M.precision, skm.precision_score), (M.recall, skm.recall_score), (M.f1, skm.f1_score)]:
        assert ours(y, logits, average="macro") == pytest.approx(theirs(y, pred, average="macro"), abs=1e-12)
    np.testing.assert_array_equal(M.confusion_matrix(y, pred), skm.confusion_matrix(y, pred))
    np.testing.assert_array_equal(M.confusion_matrix(y, logits, num_classes=6),
                                  skm.confusion_matrix(y, pred, labels=range(6)))


def test_macro_average_skips_classes_absent_from_both_and_scores_unpredicted_as_zero():
    y = np.array([0, 0, 3, 3, 3])
    pred = np.array([0, 3, 3, 3, 0])
    y2, pred2 = np.array([0, 1, 2, 2]), np.array([0, 0, 0, 2])  # class 1 never predicted: precision 0
    for a, b in [(y, pred), (y2, pred2)]:
        for ours, theirs in [(M.precision, skm.precision_score), (M.recall, skm.recall_score), (M.f1, skm.f1_score)]:
            assert ours(a, b, average="macro") == pytest.approx(theirs(a, b, average="macro", zero_division=0))


def test_binary_metrics_match_sklearn_and_threshold_convention():
    y = rng.integers(0, 2, 300)
    probs = np.clip(0.6 * y + rng.uniform(-0.3, 0.7, 300), 0, 1).astype(np.float32)
    pred = (probs > 0.5).astype(int)
    for ours, theirs in [(M.precision, skm.precision_score), (M.recall, skm.recall_score), (M.f1, skm.f1_score)]:
        assert ours(y, probs) == pytest.approx(theirs(y, pred), abs=1e-12)
        assert ours(y, probs[:, None]) == ours(y, pred)
    assert M.accuracy(y, probs) == pytest.approx(skm.accuracy_score(y, pred))
    logits = np.log(probs + 1e-6) - np.log1p(-probs + 1e-6)  # outside [0, 1]: read as logits, threshold 0
    assert M.accuracy(y, logits) == M.accuracy(y, probs)
    y_float = y.astype(np.float32)[:, None]  # BCE-style targets
    assert M.accuracy(y_float, probs) == M.accuracy(y, probs)
    # explicit threshold overrides the automatic choice
    assert M.accuracy([1, 1], [0.3, 0.2], threshold=0.0) == 1.0
    assert M.accuracy([1, 1], [0.3, 0.2]) == 0.0
    assert M.predicted_classes(np.array([-0.1, 0.2, 3.0])).tolist() == [0, 1, 1]
    assert M.predicted_classes(np.array([0.1, 0.6, 1.0])).tolist() == [0, 1, 1]


def test_binary_edge_cases_match_sklearn():
    assert M.precision([0, 0, 1], [0, 0, 0]) == 0.0 == skm.precision_score([0, 0, 1], [0, 0, 0], zero_division=0)
    assert M.recall([0, 0, 0], [0, 0, 0]) == 0.0
    assert M.f1([1, 1, 0], [1, 1, 0]) == 1.0


def test_regression_metrics_match_sklearn():
    y = rng.normal(size=(100, 1)).astype(np.float32)
    pred = (y[:, 0] + rng.normal(scale=0.3, size=100)).astype(np.float32)  # (N,) against (N, 1)
    assert M.mse(y, pred) == pytest.approx(skm.mean_squared_error(y[:, 0], pred), rel=1e-6)
    assert M.mae(lamina.tensor(y), lamina.tensor(pred)) == pytest.approx(skm.mean_absolute_error(y[:, 0], pred),
                                                                         rel=1e-6)
    assert M.r2(y, pred) == pytest.approx(skm.r2_score(y[:, 0], pred), rel=1e-6)
    multi, multi_pred = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert M.r2(multi, multi_pred) == pytest.approx(skm.r2_score(multi, multi_pred))
    assert M.mse(multi, multi_pred) == pytest.approx(skm.mean_squared_error(multi, multi_pred))
    assert M.r2([2.0, 2.0], [2.0, 2.0]) == 1.0 == skm.r2_score([2.0, 2.0], [2.0, 2.0])
    assert M.r2([2.0, 2.0], [1.0, 2.0]) == 0.0 == skm.r2_score([2.0, 2.0], [1.0, 2.0])
    assert M.mse([1.0, 2.0], [1.0, 4.0]) == 2.0 and M.mae([1.0, 2.0], [1.0, 4.0]) == 1.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="accuracy: y_true has 3 samples but y_pred has 2"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"y_true must have shape \(N,\) or \(N, 1\), got \(2, 2\)"):
        M.accuracy(np.zeros((2, 2), int), [0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        M.accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="average='binary' needs labels in {0, 1}.*use average='macro'"):
        M.f1([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="average must be 'binary' or 'macro'"):
        M.recall([0, 1], [0, 1], average="micro")
    with pytest.raises(ValueError, match="class index 3 is out of range for num_classes=3"):
        M.confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="non-negative"):
        M.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match=r"top_k_accuracy: y_score must be class scores of shape \(N, C\)"):
        M.top_k_accuracy([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match=r"mse: y_true has shape \(3,\) but y_pred has shape \(3, 2\)"):
        M.mse([1.0, 2.0, 3.0], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="r2: no samples"):
        M.r2([], [])
    with pytest.raises(ValueError, match="accuracy: no samples"):
        M.accuracy([], [])


def test_registry_takes_raw_outputs_like_a_loss():
    y, logits = random_classes(k=10)
    names = {"accuracy", "top5_accuracy", "precision", "recall", "f1", "mse", "mae", "r2"}
    assert set(M.METRICS) == names
    acc = M.get_metric("accuracy")
    assert acc(lamina.tensor(logits), lamina.tensor(y)) == M.accuracy(y, logits)
    assert acc.higher_is_better and acc.input == "classes"
    top5 = M.get_metric("top5_accuracy")
    assert top5.input == "scores" and top5(logits, y) == pytest.approx(skm.top_k_accuracy_score(y, logits, k=5))
    top3 = M.get_metric("top3_accuracy")
    assert top3.name == "top3_accuracy" and top3(logits, y) == M.top_k_accuracy(y, logits, 3)
    # multiclass outputs: macro; one-output binary: binary
    assert M.get_metric("f1")(logits, y) == pytest.approx(skm.f1_score(y, logits.argmax(1), average="macro"))
    yb = y % 2
    probs = np.where(yb == 1, 0.7, 0.3) + rng.uniform(-0.29, 0.29, len(y))  # in [0, 1]: probabilities
    assert M.get_metric("precision")(probs[:, None], yb[:, None].astype(np.float32)) == pytest.approx(
        skm.precision_score(yb, probs > 0.5))
    assert M.get_metric("recall", threshold=0.9)(probs, yb) == pytest.approx(skm.recall_score(yb, probs > 0.9))
    for name in ("mse", "mae"):
        assert not M.get_metric(name).higher_is_better and M.get_metric(name).input == "values"
    r2 = M.get_metric("r2")
    assert r2.higher_is_better and r2(np.array([[1.0], [2.0]]), np.array([1.0, 3.0])) == pytest.approx(
        skm.r2_score([1.0, 3.0], [1.0, 2.0]))
    with pytest.raises(ValueError, match="unknown metric 'auc'; choose one of accuracy, .*r2"):
        M.get_metric("auc")
