"""lamina.tune in Python: search spaces (dict, flags, TOML), search() with an objective or a config, the pruning
callback in lamina.fit and in a loop of one's own, and trials of dead processes given back to the study."""

import subprocess
import sys

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from lamina import nn, optim  # noqa: E402
from lamina.training import fit  # noqa: E402
from lamina.tune import PruningCallback, SearchSpace, default_space, load_space, search, trials_table  # noqa: E402
from lamina.tune.search import KILLED  # noqa: E402
from lamina.tune.space import parse_flag  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def test_flags_make_ranges_choices_and_fixed_values():
    lr = parse_flag("lr", "1e-4:1e-1")
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 0.1, True)  # lr: log scale by default
    depth = parse_flag("depth", "1:3")
    assert (depth.kind, depth.low, depth.high, depth.log) == ("int", 1, 3, False)
    assert parse_flag("width", "16:256:linear").log is False
    assert parse_flag("activation", "relu,tanh").choices == ("relu", "tanh")
    assert parse_flag("batch_size", "32,64").choices == (32, 64)
    assert parse_flag("dropout", "0").value == 0 and parse_flag("optimizer", "adam").value == "adam"
    with pytest.raises(ValueError, match="--lr: a range is LOW:HIGH"):
        parse_flag("lr", "1:2:3")
    with pytest.raises(ValueError, match="--weight-decay: a log-scale range must start above 0, got 0"):
        parse_flag("weight_decay", "0:0.1:log")
    with pytest.raises(ValueError, match="--depth: low must be below high, got 3 and 1"):
        parse_flag("depth", "3:1")


def test_space_turns_depth_and_width_into_hidden_layers():
    space = SearchSpace({"depth": {"low": 1, "high": 3}, "width": 64, "lr": [0.1, 0.01]})
    assert space.to_params({"depth": 2, "lr": 0.1}) == {"hidden_layer_sizes": (64, 64), "lr": 0.1}
    assert set(default_space().dims) == {"lr", "depth", "width", "activation", "dropout", "batch_size", "optimizer",
                                         "weight_decay"}
    assert (default_space().dims["weight_decay"].low, default_space().dims["weight_decay"].log) == (1e-5, True)
    assert default_space("image").dims["channels"].choices == ("6,16", "16,32", "32,64")
    with pytest.raises(ValueError, match="no default search space for 'text'"):
        default_space("text")


def test_toml_space_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[space]\nlr = { low = 1e-3, high = 0.1 }\ndepth = { low = 1, high = 2 }\n'
                    'activation = ["relu", "gelu"]\nepochs = 4\n\n[tune]\ntrials = 7\n')
    space, settings = load_space(path)
    assert space.dims["lr"].log and space.dims["depth"].kind == "int" and space.dims["epochs"].value == 4
    assert space.dims["activation"].choices == ("relu", "gelu") and settings == {"trials": 7}
    path.write_text("[spaces]\nlr = 1\n")
    with pytest.raises(ValueError, match=r"space.toml: unknown table\(s\) spaces"):
        load_space(path)
    path.write_text("[space]\nlr = { low = 1e-3 }\n")
    with pytest.raises(ValueError, match=r"lr must be \{low = ..., high = ..., log = true\|false\}"):
        load_space(path)
    path.write_text("[space\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_space(path)


def test_search_minimises_an_objective_to_the_trial_count():
    study = search(lambda t: (t.suggest_float("x", -10, 10) - 2) ** 2, 40, direction="minimize", seed=0)
    assert len(study.trials) == 40
    assert abs(study.best_params["x"] - 2) < 0.5  # TPE homes in (random search's expected best is ~0.25 away)
    header, rows = trials_table(study)
    assert header[:6] == ["number", "state", "value", "epochs", "best_epoch", "duration_s"] and header[6:] == ["x"]
    assert {r[4] for r in rows} == {""}  # an objective of one's own records no best epoch
    assert [r[0] for r in rows] == list(range(40))


def test_pruning_callback_in_a_loop_of_ones_own():
    curves = [[0.5, 0.6, 0.7], [0.6, 0.7, 0.8], [0.1, 0.2, 0.3], [0.9, 0.9, 0.9]]
    seen = []

    def objective(trial):
        callback = PruningCallback(trial, "val_accuracy")
        seen.append(callback)
        for epoch, value in enumerate(curves[trial.number]):
            callback.on_epoch_end(epoch, {"val_accuracy": value})
        return curves[trial.number][-1]

    study = search(objective, 4, pruner="median", pruner_startup=2, warmup_epochs=0)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]
    assert seen[2].pruned_epoch == 0 and study.trials[2].intermediate_values == {0: 0.1}
    assert seen[3].pruned_epoch is None and study.best_value == 0.9
    with pytest.raises(KeyError, match="PruningCallback monitors 'val_f1' but the epoch logs only have loss"):
        PruningCallback(study.trials[0], "val_f1").on_epoch_end(0, {"loss": 1.0})


def test_search_prunes_by_hyperband_by_default():
    levels = [0.9, 0.5, 0.95, 0.4, 0.3, 0.2, 0.1, 0.96, 0.05]

    def objective(trial):
        callback = PruningCallback(trial, "val_accuracy")
        for epoch in range(12):
            callback.on_epoch_end(epoch, {"val_accuracy": levels[trial.number]})
        return levels[trial.number]

    study = search(objective, len(levels), study_name="hyperband")
    pruner = study.pruner
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._reduction_factor) == (5, 3)
    assert pruner._max_resource == 12  # "auto": the first finished trial's epochs
    states = {t.number: t.state.name for t in study.trials}
    assert states[0] == "COMPLETE" and states[2] == states[7] == "COMPLETE"  # the best so far always go on
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert len(pruned) >= 3 and all(levels[t.number] <= 0.5 for t in pruned)
    assert all(len(t.intermediate_values) < 12 for t in pruned) and study.best_value == 0.96
    X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    config = {"X": X, "y": (X[:, 0] > 0).astype(np.int64), "epochs": 5, "space": {"width": 4, "depth": 1}}
    assert search(config, 1, min_epochs=2).pruner._max_resource == 5  # a config's epochs
    assert isinstance(search({**config, "epochs": 3}, 1).pruner, optuna.pruners.MedianPruner)  # too few to halve
    with pytest.raises(ValueError, match="pruner must be 'hyperband', 'median', 'none' or an Optuna pruner"):
        search(objective, 1, pruner="asha")


def test_pruning_callback_stops_lamina_fit():
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=0.99, n_warmup_steps=1))
    trial = study.ask()
    X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    callback = PruningCallback(trial, "val_accuracy")
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2: val_accuracy="):
        fit(model, (X, y), val=(X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=1e-3),
            epochs=20, metrics=["accuracy"], callbacks=[callback], progress=False, health=False)
    assert callback.pruned_epoch == 1 and callback.state.stop_training
    assert sorted(trial.storage.get_trial(trial._trial_id).intermediate_values) == [0, 1]


def test_search_config_trains_estimators_on_a_sqlite_study(tmp_path):
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    finished = []
    config = {"X": StandardScaler().fit_transform(X), "y": y, "epochs": 8, "seed": 0,
              "space": {"lr": {"low": 1e-3, "high": 0.1}, "width": [8, 32], "depth": 1},
              "on_trial_end": lambda trial, est, value: finished.append((trial.number, est, value))}
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    study = search(config, 5, storage=url, study_name="iris", startup_trials=2)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(study.trials) == 5 and [n for n, _, _ in finished] == [t.number for t in done]
    for (_, est, value), t in zip(finished, done):
        curve = est.history_["val_accuracy"]
        assert value == t.value == max(curve) and t.user_attrs["best_epoch"] == curve.index(max(curve)) + 1
        assert est.module_[0].out_features == t.params["width"] and est.lr == t.params["lr"]
        assert len(t.intermediate_values) == 8 and est.loss.label_smoothing == 0.1  # the default smoothing
        # the estimator ends with its best epoch's weights: they score that value on the validation rows
        labels = np.searchsorted(est.classes_, y)
        _, (X_val, y_val) = est._split(config["X"].astype(np.float32), labels, labels, 0.2, 0)
        assert est.score(X_val, est.classes_[y_val]) == pytest.approx(value)
    assert study.best_value > 0.8
    again = search(config, 7, storage=url, study_name="iris")  # the same study, continued to 7 trials
    assert len(again.trials) == 7 and sorted(t.number for t in again.trials) == list(range(7))


def test_a_dead_process_gives_its_running_trial_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    study = optuna.create_study(storage=url, study_name="s", direction="maximize")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    trial = study.ask()
    trial.set_user_attr("lamina_owner", {"host": __import__("socket").gethostname(), "pid": int(dead.stdout)})
    study = search(lambda t: t.suggest_float("x", 0, 1), 3, storage=url, study_name="s")
    states = {t.number: t.state.name for t in study.trials}
    assert states == {0: "FAIL", 1: "COMPLETE", 2: "COMPLETE", 3: "COMPLETE"}
    assert study.trials[0].user_attrs[KILLED] is True


def test_best_epoch_and_label_smoothing_of_a_config():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(np.int64)
    kept = []
    config = {"X": X, "y": y, "epochs": 6, "space": {"width": 8, "depth": 1, "lr": 0.05,
                                                    "label_smoothing": {"low": 0.0, "high": 0.3}},
              "best_epoch": False, "on_trial_end": lambda trial, est, value: kept.append((est, value))}
    study = search(config, 3, pruning=False)
    for (est, value), t in zip(kept, study.trials):  # the last epoch's value; the drawn smoothing in the loss
        assert value == t.value == est.history_["val_accuracy"][-1] and t.user_attrs["best_epoch"] == 6
        assert est.loss.label_smoothing == t.params["label_smoothing"] and 0 <= t.params["label_smoothing"] <= 0.3
    kept.clear()
    search({**config, "space": {"width": 8, "depth": 1}, "fixed": {"loss": "nll"}}, 1)
    assert kept[0][0].loss == "nll"  # a loss of one's own: no smoothing added
    with pytest.raises(ValueError, match="label_smoothing is for classification"):
        search({**config, "y": X[:, 0], "task": "regression"}, 1)
    with pytest.raises(ValueError, match="label_smoothing makes the loss a smoothed cross-entropy"):
        search({**config, "fixed": {"loss": "nll"}}, 1)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.5"):
        search({**config, "space": {"width": 8, "label_smoothing": 1.5}}, 1)
