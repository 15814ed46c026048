"""`lamina tune`: the search folder and its best run, the search space from flags and TOML, one-line errors, the
message without Optuna, a study killed mid-trial and resumed, and two processes sharing one SQLite study."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lamina.cli import main
from lamina.tune.search import _storage

optuna = pytest.importorskip("optuna")

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def load(folder, name="lamina-tune"):
    # through lamina's storage: it waits while a lamina tune process is creating the database's tables
    return optuna.load_study(study_name=name, storage=_storage(optuna, f"sqlite:///{folder / 'tune.db'}"))


def test_tune_writes_the_search_folder_and_a_best_run(tmp_path, capsys):
    out = tmp_path / "search"
    code, stdout, err = run_cli(capsys, "tune", "--data", "iris", "--trials", 4, "--epochs", 6, "--out", out,
                                "--startup-trials", 2)
    assert code == 0, err
    for name in ("tune.db", "trials.csv", "best.json", "search_history.png", "best_curves.png",
                 "best/config.json", "best/model.safetensors", "best/metrics.json", "best/history.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert [r["number"] for r in rows] == ["0", "1", "2", "3"]
    assert set(rows[0]) >= {"state", "value", "lr", "depth", "width", "activation", "dropout", "batch_size",
                            "optimizer"}
    best = json.loads((out / "best.json").read_text())
    study = load(out)
    assert best["trial"] == study.best_trial.number and best["val_accuracy"] == study.best_value
    assert f"best: trial {best['trial']}, val_accuracy={study.best_value:.4f}" in stdout
    config = json.loads((out / "best/config.json").read_text())
    params = study.best_trial.params
    assert config["lr"] == params["lr"] and config["hidden"] == [params["width"]] * params["depth"]
    assert config["tune"]["trial"] == best["trial"] and config["epochs"] == 6
    # the best trial's value is its best epoch's, whose weights the run folder holds; trained with smoothing 0.1
    curve = json.loads((out / "best/history.json").read_text())["history"]["val_accuracy"]
    assert best["val_accuracy"] == max(curve)
    assert best["epoch"] == config["tune"]["epoch"] == curve.index(max(curve)) + 1
    assert config["tune"]["label_smoothing"] == 0.1 and rows[best["trial"]]["best_epoch"] == str(best["epoch"])
    assert f"val_accuracy={study.best_value:.4f} (epoch {best['epoch']})" in stdout
    assert best["fixed"] == {"label_smoothing": 0.1} and "  label_smoothing: 0.1 (fixed)" in stdout  # not searched
    code, stdout, _ = run_cli(capsys, "evaluate", out / "best")
    assert code == 0 and f"test accuracy: {best['test']['accuracy']:.4f}" in stdout
    code, stdout, _ = run_cli(capsys, "info", out / "best")
    assert code == 0 and "iris, classification, 4 features, 3 outputs" in stdout
    (tmp_path / "x.csv").write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    code, stdout, _ = run_cli(capsys, "predict", out / "best", "--input", tmp_path / "x.csv")
    assert code == 0 and len(stdout.split()) == 2


def test_space_from_flags_and_a_toml_file(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text('[space]\nactivation = ["tanh"]\nwidth = [8, 16]\n\n[tune]\ntrials = 3\nepochs = 3\n')
    out = tmp_path / "s"
    code, _, err = run_cli(capsys, "tune", "--data", "iris", "--space", space, "--lr", "0.01", "--depth", "1",
                           "--out", out)
    assert code == 0, err
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert len(rows) == 3 and {r["width"] for r in rows} <= {"8", "16"}
    assert "lr" not in rows[0] and "activation" not in rows[0]  # fixed values are not searched
    config = json.loads((out / "best/config.json").read_text())
    assert config["lr"] == 0.01 and config["activation"] == "tanh" and config["epochs"] == 3


def test_label_smoothing_flag_and_the_last_epoch(tmp_path, capsys):
    out = tmp_path / "s"
    code, _, err = run_cli(capsys, "tune", "--data", "iris", "--trials", 2, "--epochs", 3, "--depth", 1, "--width", 8,
                           "--label-smoothing", "0:0.2", "--last-epoch", "--no-pruning", "--out", out)
    assert code == 0, err
    assert "label_smoothing: 0:0.2" in err
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert [r["best_epoch"] for r in rows] == ["3", "3"] and all(0 <= float(r["label_smoothing"]) <= 0.2 for r in rows)
    config = json.loads((out / "best/config.json").read_text())
    curve = json.loads((out / "best/history.json").read_text())["history"]["val_accuracy"]
    assert config["tune"]["value"] == curve[-1] and config["tune"]["epoch"] == 3
    assert config["tune"]["label_smoothing"] == config["tune"]["params"]["label_smoothing"]


@pytest.mark.parametrize("argv, message", [
    (["--lr", "1:2:3"], "--lr: a range is LOW:HIGH (optionally :log or :linear), got '1:2:3'"),
    (["--space", "missing.toml"], "cannot read search space missing.toml"),
    (["--validation-fraction", "1.5"], "--validation-fraction must be between 0 and 1, got 1.5"),
    (["--data", "nope"], "unknown dataset 'nope'"),
    (["--min-epochs", "0"], "--trials and --min-epochs must be positive"),
    (["--pruner", "asha"], "argument --pruner: invalid choice: 'asha'"),
    (["--data", "diabetes", "--label-smoothing", "0.1"], "--label-smoothing is for classification, not regression"),
])
def test_bad_arguments_give_one_line(tmp_path, capsys, argv, message):
    code, out, err = run_cli(capsys, "tune", "--out", tmp_path / "s", *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith("lamina: error: ") and message in err, err


def test_without_optuna_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    code, out, err = run_cli(capsys, "tune", "--data", "iris")
    assert code == 2 and err.startswith("lamina: error: lamina tune needs Optuna: pip install lamina[tune]")


def tune_command(out, trials, epochs=4):
    return [sys.executable, "-m", "lamina.cli", "tune", "--data", "digits", "--trials", str(trials), "--epochs",
            str(epochs), "--out", str(out), "--startup-trials", "2"]


def test_a_study_killed_mid_trial_resumes(tmp_path):
    out = tmp_path / "s"
    command = tune_command(out, 3, epochs=12)  # trials of a few seconds: the kill lands well inside one
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 300
    killed = None
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if not (out / "tune.db").is_file():
            continue
        try:
            trials = load(out).get_trials(deepcopy=False)
        except Exception:  # noqa: BLE001 - the study is still being created
            continue
        running = [t.number for t in trials if t.state.name == "RUNNING"]
        if running and running[0] >= 1:  # one trial done, the next one under way
            proc.send_signal(signal.SIGKILL)
            killed = running[0]
    proc.wait()
    assert killed is not None, f"the search ended before it could be killed mid-trial: {log.read_text()}"
    assert load(out).trials[killed].state.name == "RUNNING"  # as the kill left it
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    trials = load(out).trials
    assert trials[killed].state.name == "FAIL" and trials[killed].user_attrs["lamina_process_died"]
    others = [t for t in trials if t.number != killed]
    assert len(others) == 3 and all(t.state.name in ("COMPLETE", "PRUNED") for t in others)
    assert sorted(t.number for t in trials) == list(range(4))
    assert subprocess.run([sys.executable, "-m", "lamina.cli", "evaluate", str(out / "best")], env=ENV,
                          capture_output=True, text=True).returncode == 0


def test_two_processes_share_one_study(tmp_path):
    out = tmp_path / "s"
    procs = [subprocess.Popen(tune_command(out, 8, epochs=8), env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    trials = load(out).trials
    assert len(trials) == 8 and sorted(t.number for t in trials) == list(range(8))
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    owners = {t.user_attrs["lamina_owner"]["pid"] for t in trials}
    assert owners == {p.pid for p in procs}  # both worked on it


def test_regression_search_monitors_r2_and_its_best_run_evaluates(tmp_path, capsys):
    out = tmp_path / "d"
    code, stdout, err = run_cli(capsys, "tune", "--data", "diabetes", "--trials", 3, "--epochs", 5, "--out", out,
                                "--depth", "1", "--width", "16,32")
    assert code == 0, err
    study = load(out)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE and "val_r2=" in stdout
    best = json.loads((out / "best.json").read_text())
    config = json.loads((out / "best/config.json").read_text())
    assert config["task"] == "regression" and config["n_outputs"] == 1 and "target_scaler" in config
    code, stdout, _ = run_cli(capsys, "evaluate", out / "best")
    assert code == 0 and f"test r2: {best['test']['r2']:.4f}" in stdout


def test_cnn_search_on_images_gives_a_cnn_run(tmp_path, capsys):
    out = tmp_path / "c"
    code, stdout, err = run_cli(capsys, "tune", "--model", "cnn", "--data", "digits", "--trials", 2, "--epochs", 2,
                                "--channels", "4,8 8,8", "--kernel-size", 3, "--depth", 1, "--width", 16,
                                "--out", out)
    assert code == 0, err
    assert {r["channels"] for r in csv.DictReader(open(out / "trials.csv"))} <= {"4,8", "8,8"}
    config = json.loads((out / "best/config.json").read_text())
    assert config["model"] == "cnn" and config["kernel_size"] == 3 and config["hidden"] == [16]
    assert config["channels"] in ([4, 8], [8, 8]) and config["image_shape"] == [1, 8, 8]
    best = json.loads((out / "best.json").read_text())
    code, stdout, _ = run_cli(capsys, "evaluate", out / "best")  # the weights load into `lamina train`'s CNN
    assert code == 0 and f"test accuracy: {best['test']['accuracy']:.4f}" in stdout


@pytest.mark.parametrize("argv, message", [
    (["--channels", "4,8"], "--channels is for --model cnn"),
    (["--model", "cnn", "--data", "iris"], "--model cnn searches on images: use --data shapes"),
])
def test_cnn_flags_need_images(tmp_path, capsys, argv, message):
    code, _, err = run_cli(capsys, "tune", "--out", tmp_path / "s", *argv)
    assert code == 2 and err.count("\n") == 1 and message in err, err
