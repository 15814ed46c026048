"""Item 14 of issue #13: the command and the examples choose one BLAS thread at start-up (two threads wait on
each other on a busy 2-core machine), unless --threads or LAMINA_NUM_THREADS says otherwise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from lamina.cli import train as cli_train

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def blas_threads() -> int:
    """The thread count of every BLAS loaded (NumPy's, which lamina uses, and SciPy's, which scikit-learn loads)."""
    counts = {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
    assert len(counts) == 1, threadpool_info()
    return counts.pop()


@pytest.fixture
def threads_seen(monkeypatch):
    seen = []
    original = cli_train.fit

    def fit(*args, **kwargs):
        seen.append(blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(cli_train, "fit", fit)
    return seen


def test_lamina_train_uses_one_blas_thread_unless_told(tmp_path, cli, threads_seen, monkeypatch):
    monkeypatch.delenv("LAMINA_NUM_THREADS", raising=False)
    before = max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
    assert cli("train", "--data", "xor", "--epochs", "2", "--out", tmp_path / "a", "--quiet")[0] == 0
    assert cli("train", "--data", "xor", "--epochs", "2", "--out", tmp_path / "b", "--quiet", "--threads", "2")[0] == 0
    monkeypatch.setenv("LAMINA_NUM_THREADS", "2")
    assert cli("train", "--data", "xor", "--epochs", "2", "--out", tmp_path / "c", "--quiet")[0] == 0
    expected_two = min(2, max(before, 2))  # BLAS may offer fewer threads than asked on a 1-core machine
    assert threads_seen == [1, expected_two, expected_two]
    assert max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas") == before  # limit ended


def test_an_example_run_as_a_program_uses_one_thread(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LAMINA_NUM_THREADS"}
    code = ("import runpy, threadpoolctl; runpy.run_path({!r}, run_name='__main__'); "
            "print('threads', [p['num_threads'] for p in threadpoolctl.threadpool_info() "
            "if 'numpy' in p['filepath'] and p['user_api'] == 'blas'])".format(str(EXAMPLES / "house_prices.py")))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "threads [1]"  # NumPy's BLAS, the one lamina computes with
