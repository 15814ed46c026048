"""``lamina train`` under bad settings, interruption and divergence, and what it prints (items 7, 8, 9 and 12 of
issue #13)."""

import json
import os
import re
import signal
import sys

import numpy as np
import pytest

import lamina
from lamina.training import loop


def interrupt_at_step(monkeypatch, n):
    """Ctrl-C (a real SIGINT to this process) during the n-th training step, counted from 1."""
    original, calls = loop.train_step, []

    def step(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", step)


def test_ctrl_c_in_the_first_epoch_says_nothing_was_saved(tmp_path, cli, monkeypatch):
    interrupt_at_step(monkeypatch, 2)
    code, out, err = cli("train", "--data", "iris", "--epochs", "5", "--out", tmp_path / "run", "--no-progress")
    assert code == 130 and out == ""
    assert "interrupted in epoch 1, before it finished: nothing was saved and no plot drawn" in err
    assert "no run folder was written" in err and "--resume" not in err and "Error" not in err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_later_keeps_the_finished_epochs_and_resume_finishes_them(tmp_path, cli, monkeypatch):
    interrupt_at_step(monkeypatch, 8 * 2 + 3)  # iris: 8 batches an epoch; stop in epoch 3
    run = tmp_path / "run"
    code, out, err = cli("train", "--data", "iris", "--dropout", "0.2", "--epochs", "5", "--out", run,
                         "--no-progress")
    assert code == 130
    assert f"interrupted in epoch 3: saved {run} with 2 finished epochs" in err
    assert f"continue with `lamina train --resume {run}`" in err
    assert json.loads((run / "history.json").read_text())["epoch"] == [0, 1]
    assert (run / "loss.png").is_file() and "test accuracy" in out
    monkeypatch.undo()
    assert cli("train", "--resume", run, "--quiet")[0] == 0
    assert cli("train", "--data", "iris", "--dropout", "0.2", "--epochs", "5", "--out", tmp_path / "whole",
               "--quiet")[0] == 0
    a, b = lamina.load(run / "model.safetensors"), lamina.load(tmp_path / "whole" / "model.safetensors")
    for key in b:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


@pytest.mark.parametrize("flags, match", [
    (["--lr", "nan"], "--lr must be a positive finite number such as 0.001, got nan"),
    (["--lr", "inf"], "--lr must be a positive finite number"),
    (["--lr", "-0.1"], "--lr must be a positive finite number"),
    (["--weight-decay", "nan"], "--weight-decay must be zero or a positive finite number, got nan"),
    (["--weight-decay", "-1"], "--weight-decay must be zero or a positive"),
    (["--seed", "-1"], "--seed must be a whole number from 0 to 2**32 - 1, got -1"),
    (["--epochs", "0"], "--epochs must be a positive whole number, got 0"),
    (["--batch-size", "-4"], "--batch-size must be a positive whole number"),
    (["--dropout", "nan"], "--dropout must be a probability in [0, 1), got nan"),
    (["--dropout", "1"], "--dropout must be a probability in [0, 1)"),
    (["--clip-grad-norm", "0"], "--clip-grad-norm must be a positive finite number"),
    (["--test-size", "nan"], "--test-size must be between 0 and 1"),
    (["--threads", "0"], "--threads must be a positive whole number"),
])
def test_every_flag_is_validated_before_training(tmp_path, cli_error, flags, match):
    cli_error("train", "--data", "xor", *flags, "--out", tmp_path / "run", match=match)
    assert not (tmp_path / "run").exists()


def test_a_new_lr_on_resume_is_checked_too(xor_run, tmp_path, cli_error):
    cli_error("train", "--resume", xor_run, "--lr", "nan", match="--lr must be a positive finite number")


def test_a_diverging_run_keeps_what_ran_and_resumes_with_a_new_lr(tmp_path, cli, cli_error):
    run = tmp_path / "run"
    line = cli_error("train", "--data", "diabetes", "--optimizer", "momentum", "--lr", "0.3", "--epochs", "8",
                     "--out", run, "--quiet", match="the loss became inf at epoch 3", code=1)
    assert f"in {run}; the run keeps its 2 finished epochs" in line and "--clip-grad-norm" in line
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [0, 1] and history["history"]["val_loss"][0] < history["history"]["val_loss"][1]
    best = lamina.load(run / "best.safetensors")
    model = lamina.load(run / "model.safetensors")  # the weights of epoch 1, the best
    for key in best:
        np.testing.assert_array_equal(best[key].numpy(), model[key].numpy())
    for command in ("info", "evaluate", "plot"):
        code, out, err = cli(command, run)
        assert code == 0, err
    assert (run / "loss.png").is_file()
    code, out, err = cli("train", "--resume", run, "--lr", "0.001", "--no-progress")
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["lr"] == 0.001
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == list(range(8)) and history["history"]["lr"][2:] == [0.001] * 6
    assert all(np.isfinite(history["history"]["loss"]))


def test_clip_grad_norm_keeps_that_run_finite(tmp_path, cli):
    run = tmp_path / "run"
    code, out, err = cli("train", "--data", "diabetes", "--optimizer", "momentum", "--lr", "0.3", "--epochs", "4",
                         "--clip-grad-norm", "1.0", "--out", run, "--quiet")
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["clip_grad_norm"] == 1.0
    assert all(np.isfinite(json.loads((run / "history.json").read_text())["history"]["loss"]))


def test_one_summary_line_per_epoch_that_fits_80_columns(tmp_path, cli, monkeypatch):
    code, out, err = cli("train", "--data", "digits", "--epochs", "3", "--out", tmp_path / "a", "--no-progress")
    assert code == 0
    lines = err.strip().splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    for line in epochs:
        assert len(line) < 80, line
        assert "loss " in line and "acc " in line and "| test loss " in line and line.endswith("s")
    code, out, err = cli("train", "--data", "digits", "--epochs", "2", "--out", tmp_path / "b", "--quiet")
    assert code == 0 and out == "" and err == ""
    code, out, err = cli("train", "--data", "xor", "--epochs", "2", "--out", tmp_path / "c")  # not a terminal
    assert code == 0 and "batch/s" not in err and "\r" not in err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = cli("train", "--data", "xor", "--epochs", "2", "--out", tmp_path / "d")  # with the bar
    assert code == 0
    assert "batch" in err  # the bar's
    assert re.findall(r"epoch (\d+/\d+)  loss", err) == ["1/2", "2/2"]  # the bar's lines are replaced by these


def test_a_diverging_process_prints_one_line_and_no_numpy_warning(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "lamina.cli", "train", "--data", "diabetes", "--optimizer",
                             "momentum", "--lr", "0.3", "--epochs", "4", "--out", str(tmp_path / "run"), "--quiet"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lamina: error: the loss became inf at epoch 3"), result.stderr
    assert "Warning" not in result.stderr


def test_resuming_a_finished_run_trains_nothing_and_changes_nothing(xor_run, tmp_path, cli):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, out, err = cli("train", "--resume", run, "--no-progress")
    assert code == 0 and out == ""
    assert f"note: {run} had already completed 30 epochs; nothing to train (pass --epochs above 30" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
