"""Run folders under ``lamina train``: never overwritten by accident, never left half-written or holding only a
config, and a run knows when its training data changed (items 1, 5 and 10 of issue #13)."""

import json
import shutil

import numpy as np
import pytest

import lamina
from lamina.cli import train as cli_train


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def no_staging_left(folder):
    return not list(folder.parent.glob(f".{folder.name}.lamina-partial"))


def test_a_non_empty_out_folder_is_refused_unless_overwrite(xor_run, tmp_path, cli, cli_error, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    (run / "report.html").write_text("<html>old</html>")  # a file of the old run the new one does not write
    (run / "notes.txt").write_text("mine")  # not lamina's: kept
    before = snapshot(run)
    line = cli_error("train", "--data", "xor", "--epochs", "5", "--out", run, match=f"--out {run} is not empty")
    assert "--overwrite" in line
    assert snapshot(run) == before
    monkeypatch.chdir(run)
    cli_error("train", "--data", "xor", "--epochs", "5", "--out", ".", match="--out . is not empty")
    assert snapshot(run) == before

    code, out, _ = cli("train", "--data", "xor", "--epochs", "5", "--lr", "0.01", "--out", run, "--overwrite")
    assert code == 0 and f"run saved to {run}" in out
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 5 and config["lr"] == 0.01
    assert len(json.loads((run / "history.json").read_text())["epoch"]) == 5
    assert not (run / "report.html").exists() and (run / "notes.txt").read_text() == "mine"
    assert (run / "model.safetensors").read_bytes() != before["model.safetensors"]
    assert no_staging_left(run)
    code, _, _ = cli("evaluate", run)
    assert code == 0


def test_a_failure_while_overwriting_leaves_the_old_run_whole(xor_run, tmp_path, cli, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    before = snapshot(run)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli_train, "_loss_plot", disk_full)  # fails after the new weights were written
    code, _, err = cli("train", "--data", "xor", "--epochs", "3", "--out", run, "--overwrite")
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert snapshot(run) == before and no_staging_left(run)
    monkeypatch.undo()
    code, out, _ = cli("evaluate", run)
    assert code == 0 and "test accuracy" in out


def test_a_run_that_fails_before_its_first_epoch_leaves_no_folder(tmp_path, cli_error):
    run = tmp_path / "run"
    line = cli_error("train", "--data", "house", "--optimizer", "momentum", "--lr", "1.0", "--epochs", "3",
                     "--out", run, "--quiet", match="the loss became inf at epoch 1", code=1)
    assert "no run folder was written" in line and "--lr" in line
    assert not run.exists() and no_staging_left(run)
    assert list(tmp_path.iterdir()) == []


def test_a_changed_training_file_is_detected(tmp_path, cli, cli_error):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    table = tmp_path / "t.csv"
    table.write_text("a,b,y\n" + "\n".join(f"{a:.4f},{b:.4f},{int(a > b)}" for a, b in X) + "\n")
    run = tmp_path / "run"
    code, _, _ = cli("train", "--csv", table, "--target", "y", "--epochs", "3", "--out", run, "--quiet")
    assert code == 0
    assert len(json.loads((run / "config.json").read_text())["data_sha256"]) == 64
    code, out, err = cli("evaluate", run)
    assert code == 0 and err == ""
    table.write_text(table.read_text().replace("0.", "0.1", 5))
    code, out, err = cli("evaluate", run)
    assert code == 0 and "test accuracy" in out
    assert err.startswith("warning: the data changed since the run was trained") and str(table) in err
    cli_error("train", "--resume", run, "--epochs", "5", match=f"cannot resume {run}: its training data changed")


def test_best_weights_are_those_of_the_lowest_test_loss(tmp_path, cli):
    common = ["train", "--data", "iris", "--optimizer", "sgd", "--lr", "0.5", "--quiet"]
    assert cli(*common, "--epochs", "8", "--out", tmp_path / "a")[0] == 0
    val_loss = json.loads((tmp_path / "a" / "history.json").read_text())["history"]["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    assert best < 8, val_loss  # otherwise the test shows nothing
    assert cli(*common, "--epochs", str(best), "--out", tmp_path / "b")[0] == 0
    a, b = lamina.load(tmp_path / "a" / "best.safetensors"), lamina.load(tmp_path / "b" / "model.safetensors")
    for key in b:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_a_half_replaced_run_is_named(xor_run, tmp_path, cli_error, cli, name):
    """config.json and model.safetensors carry the run's id: a folder mixing two runs is refused, not used."""
    assert cli("train", "--data", "xor", "--epochs", "2", "--out", tmp_path / "other", "--quiet")[0] == 0
    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    shutil.copy(tmp_path / "other" / name, run / name)
    cli_error("evaluate", run, match="belongs to another run than")


def test_a_run_half_moved_into_place_is_named_with_where_the_rest_is(xor_run, tmp_path, cli, cli_error,
                                                                      monkeypatch):
    import os

    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    replace = os.replace

    def fail_on_config(src, dst):
        if os.fspath(dst) == os.fspath(run / "config.json"):
            raise OSError(5, "Input/output error")
        return replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_config)
    code, _, err = cli("train", "--data", "xor", "--epochs", "3", "--out", run, "--overwrite", "--quiet")
    monkeypatch.undo()
    assert code == 1 and "Input/output error" in err
    stage = tmp_path / ".run.lamina-partial"
    assert (stage / "config.json").is_file()
    cli_error("evaluate", run, match=f"belongs to another run than {run / 'config.json'} (a run folder left half "
                                     f"replaced; the rest of the new run is in {stage})")
