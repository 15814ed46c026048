"""``lamina train`` stopped by SIGINT (Ctrl-C) or SIGTERM at random points, during a checkpoint write among them,
twice in a row (an abort) among them: the run folder is always absent (nothing had finished) or loadable, never
half-written, and ``--resume`` then ends bit for bit where an uninterrupted run ends."""

import json
import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest

import lamina
from lamina.cli import main
from lamina.cli.runs import load_run
from lamina.training import loop

RUN = ["--data", "iris", "--dropout", "0.2", "--epochs", "6"]  # 8 batches an epoch, dropout and shuffling


def weights(run):
    return {k: v.numpy() for k, v in lamina.load(run / "model.safetensors").items()}


def losses(run):
    history = json.loads((run / "history.json").read_text())["history"]
    return history["loss"], history["val_loss"]


@pytest.fixture(autouse=True)
def python_ctrl_c_handler():
    """Each test starts from Python's own Ctrl-C handler, as ``lamina`` started at a terminal has, whatever pytest
    was started with: a process that a script starts in the background inherits Ctrl-C ignored (SIG_IGN), and
    there the signals these tests send before training (at the first file write) would be ignored. The process's
    handlers are put back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def train(*argv):
    """``lamina train argv...`` in this process; its exit code. Every in-process run must leave the process's
    Ctrl-C and SIGTERM handlers exactly as it found them, however it was stopped."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    code = main(["train", *argv])
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before
    return code


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run = tmp_path_factory.mktemp("reference") / "run"
    assert train(*RUN, "--out", str(run), "--quiet") == 0
    return weights(run), losses(run)


def signal_at(monkeypatch, signum, where, n, times):
    """Send signum to this process `times` times at the n-th training step, or inside the n-th os.fsync (a file
    being written: its bytes are in the temporary file, the rename has not happened)."""
    module, name = (loop, "train_step") if where == "step" else (os, "fsync")
    original, calls = getattr(module, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            for _ in range(times):
                os.kill(os.getpid(), signum)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


def check_and_resume(run, reference, capsys):
    """The folder is absent or loadable; resumed, it ends where the uninterrupted run ends."""
    assert not list(run.parent.glob(".*lamina-partial")), "a staging folder was left behind"
    if not run.exists():
        return False
    load_run(run)  # config and weights load and belong together
    for name in ("history.json", "metrics.json", "checkpoint.ckpt", "best.safetensors", "loss.png"):
        assert (run / name).is_file(), name
    assert train("--resume", str(run), "--quiet") == 0, capsys.readouterr().err
    ref_weights, ref_losses = reference
    got = weights(run)
    assert sorted(got) == sorted(ref_weights)
    for key, value in ref_weights.items():
        np.testing.assert_array_equal(got[key], value)
    assert losses(run) == ref_losses
    return True


_rng = random.Random(13)
CASES = [(s, "step", _rng.randint(1, 48), 1) for s in ("SIGINT", "SIGTERM")]
CASES += [(s, "fsync", _rng.randint(1, 14), times) for times in (1, 2) for s in ("SIGINT", "SIGTERM")]


@pytest.mark.parametrize("signame, where, n, times", CASES)
def test_interrupted_run_is_whole_and_resumes_bit_for_bit(tmp_path, reference, capsys, monkeypatch,
                                                          signame, where, n, times):
    run = tmp_path / "run"
    signal_at(monkeypatch, getattr(signal, signame), where, n, times)
    code = train(*RUN, "--out", str(run), "--no-progress")
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code in (0, 130), err
    assert "Traceback" not in err
    if code == 130 and not run.exists():
        assert "nothing was saved" in err or err.strip().endswith("lamina: interrupted")
    resumed = check_and_resume(run, reference, capsys)
    if times == 1 and (where == "fsync" or n > 8):  # a single signal after the first epoch keeps the run
        assert resumed
    # interrupted again while resuming: the run stays as it was, and resumes once more to the same end
    if run.exists() and where == "fsync":
        assert train("--resume", str(run), "--epochs", "9", "--quiet") == 0
        before = {p.name: p.read_bytes() for p in run.iterdir()}
        signal_at(monkeypatch, getattr(signal, signame), "fsync", 1, 2)
        assert train("--resume", str(run), "--epochs", "12", "--quiet") == 130
        monkeypatch.undo()
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_real_process_stopped_by_sigterm(tmp_path, capsys):
    """The command as a user runs it, stopped from outside (as a job scheduler does) once its second epoch is
    reported: it keeps the finished epochs, and resuming ends where an uninterrupted run ends."""
    run = tmp_path / "run"
    common = ["--data", "digits", "--epochs", "5"]
    proc = subprocess.Popen([sys.executable, "-m", "lamina.cli", "train", *common, "--no-progress", "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if sum(s.startswith("epoch ") for s in seen) == 2:
            proc.send_signal(signal.SIGTERM)
            break
    out, rest = proc.communicate(timeout=300)
    err = "".join(seen) + rest
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err and "RuntimeWarning" not in err
    if proc.returncode == 130:
        assert f"continue with `lamina train --resume {run}`" in err
    load_run(run)
    assert train("--resume", str(run), "--quiet") == 0
    assert train(*common, "--out", str(tmp_path / "whole"), "--quiet") == 0
    a, b = weights(run), weights(tmp_path / "whole")
    for key in b:
        np.testing.assert_array_equal(a[key], b[key])
    capsys.readouterr()


@pytest.mark.parametrize("ignored", [False, True], ids=["ctrl-c-handled", "ctrl-c-ignored"])
@pytest.mark.parametrize("where, n", [("fsync", 1), ("step", 12)])
def test_sigterm_stops_the_run_also_where_ctrl_c_is_ignored(tmp_path, capsys, monkeypatch, where, n, ignored):
    """A job a script starts in the background inherits Ctrl-C ignored; SIGTERM (`kill`, a scheduler) must still
    stop it, before training (at the first file write: nothing saved) and during it (the finished epoch kept)."""
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    run = tmp_path / "run"
    signal_at(monkeypatch, signal.SIGTERM, where, n, 1)
    code = train(*RUN, "--out", str(run), "--no-progress")
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 130, err
    if where == "fsync":
        assert not run.exists() and err.strip().endswith("lamina: interrupted"), err
    else:
        assert f"interrupted in epoch 2: saved {run} with 1 finished epochs" in err
        load_run(run)


SWAPS = ["SIGTERM in", "SIGINT paused", "SIGTERM paused", "SIGINT back", "SIGTERM back", "SIGTERM out"]


@pytest.mark.parametrize("k", range(len(SWAPS)), ids=SWAPS)
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_pending_at_any_handler_swap_leaves_every_handler_as_it_was(monkeypatch, signal_pending_at, signame,
                                                                             k):
    """lamina train's handler swaps (SIGTERM as Ctrl-C for the whole command; both paused while the run's files are
    written), each with a signal pending just before it, as CPython then runs: the pending handler first (and when
    it raises, no swap). Whatever happens, both handlers end as they were, and the signal is honoured (a
    KeyboardInterrupt) unless it came while the files were being written."""
    from lamina.cli import train as command

    if signame == "SIGTERM" and k == 0:
        pytest.skip("before lamina handles SIGTERM, SIGTERM ends the process")
    signum = getattr(signal, signame)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal_pending_at(signum, k)
    raised = False
    try:
        with command._SigtermAsCtrlC(), command._SignalsDeferred():
            pass
    except KeyboardInterrupt:
        raised = True
    monkeypatch.undo()
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before
    paused = SWAPS[k] in ("SIGTERM paused", "SIGINT back") or (SWAPS[k] == "SIGTERM back" and signame == "SIGTERM")
    assert raised != paused
