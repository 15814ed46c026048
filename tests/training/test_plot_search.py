"""lamina.plot's pictures of a hyperparameter search: plain numbers in, real PNGs out."""

import numpy as np
import pytest

from lamina import plot

image = pytest.importorskip("matplotlib.image")
RED, BLUE = np.array([0xD6, 0x27, 0x28]) / 255, np.array([0x1F, 0x77, 0xB4]) / 255  # matplotlib's C3 and C0


def share(pixels, colour) -> float:
    return float(np.mean(np.all(np.abs(pixels[..., :3] - colour) < 0.02, axis=-1)))


def test_search_history_draws_the_best_so_far_only_for_finished_trials(tmp_path):
    trials = [{"number": 0, "state": "COMPLETE", "value": 0.9}, {"number": 1, "state": "PRUNED", "value": 0.5},
              {"number": 2, "state": "COMPLETE", "value": 0.95}, {"number": 3, "state": "FAIL", "value": None}]
    with_best = image.imread(plot.plot_search_history(trials, tmp_path / "h.png", metric="val_accuracy"))
    assert with_best.shape[:2] == (400, 700) and share(with_best, RED) > 0.001  # the red best-so-far line
    only_pruned = image.imread(plot.plot_search_history(trials[1:2], tmp_path / "p.png"))
    assert share(only_pruned, RED) == 0


def test_param_importances_bars_follow_the_values(tmp_path):
    pixels = image.imread(plot.plot_param_importances({"lr": 0.8, "width": 0.2}, tmp_path / "i.png"))
    rows = np.all(np.abs(pixels[..., :3] - BLUE) < 0.02, axis=-1)
    widths = sorted({int(r.sum()) for r in rows if r.sum() > 0})
    assert widths[-1] == pytest.approx(4 * widths[0], rel=0.1)  # 0.8 against 0.2


def test_trial_curves_colour_only_the_highlighted(tmp_path):
    curves = {"trial 0": [0.5, 0.7, 0.8], "trial 1": [0.2, 0.3]}
    grey = image.imread(plot.plot_trial_curves(curves, tmp_path / "g.png", "val_accuracy"))
    assert share(grey, BLUE) == 0
    coloured = image.imread(plot.plot_trial_curves(curves, tmp_path / "c.png", "val_accuracy",
                                                   highlight=["trial 0"]))
    assert share(coloured, BLUE) > 0.001
