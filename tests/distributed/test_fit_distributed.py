"""fit(distributed=True) under mpiexec: the same weights as one process, rank 0 alone writing, resume at another
world size; and failures: a rank that dies, raises, hangs or builds another model ends the job, naming it."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from mpi_jobs import WORKER, mpiexec, run_job


def weights(folder, r=0):
    return dict(np.load(folder / f"rank{r}.npz"))


def history(folder, r=0):
    return json.loads((folder / f"rank{r}.json").read_text())["history"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """Two epochs in one process (no mpiexec: a job of one)."""
    out = tmp_path_factory.mktemp("fit1")
    run_job(None, "fit-2", out)
    return out


def test_resume_at_world_size_2_from_a_checkpoint_written_at_4(single, tmp_path):
    job = run_job(4, "fit-1", tmp_path)
    assert re.search(r"lamina.distributed: 4 processes \(rank:pid@host 0:\d+@\S+ 1:\d+@", job.stderr)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint.ckpt"]  # rank 0 alone wrote
    assert [p.name for p in tmp_path.glob("log-*.csv")] == ["log-written-by-0.csv"]  # the others' CSVLogger muted
    first = weights(tmp_path)
    run_job(2, "fit-2-resume", tmp_path)
    resumed = weights(tmp_path)
    assert all(np.array_equal(resumed[k], weights(tmp_path, 1)[k]) for k in resumed)  # bitwise, every rank
    expected = weights(single)
    for key, want in expected.items():  # the same batches as one process: equal to float rounding
        np.testing.assert_allclose(resumed[key], want, rtol=1e-6, atol=1e-6 * np.abs(want).max(), err_msg=key)
        assert np.abs(resumed[key] - first[key]).max() > 1e-4, f"{key}: the resumed epoch did not train"
    h, h1 = history(tmp_path), history(single)
    assert len(h["loss"]) == 2 and history(tmp_path, 1)["loss"] == h["loss"]  # averaged: the same on every rank
    np.testing.assert_allclose(h["loss"], h1["loss"], rtol=1e-6)
    np.testing.assert_allclose(h["accuracy"], h1["accuracy"], rtol=1e-9)


def test_a_killed_rank_ends_the_job_with_an_error_within_30_s(tmp_path):
    job = run_job(2, "fit-3-kill", tmp_path, timeout=60, check=False)
    assert job.returncode != 0 and job.seconds < 30
    pid = re.search(r" 1:(\d+)@", job.stderr).group(1)  # rank 1's pid, from rank 0's first line
    assert re.search(rf"BAD TERMINATION.*\n.*PID {pid} ", job.stdout + job.stderr), job.stdout + job.stderr


def test_a_rank_that_raises_aborts_the_job_naming_it(tmp_path):
    job = run_job(2, "fit-3-raise", tmp_path, timeout=60, check=False)
    assert job.returncode != 0 and job.seconds < 30
    assert "lamina.distributed: rank 1 of 2 failed: RuntimeError: rank 1 fails on purpose; aborting" in job.stderr


def test_a_collective_waiting_past_the_timeout_aborts(tmp_path):
    job = run_job(2, "timeout", tmp_path, timeout=60, check=False)
    assert job.returncode != 0 and job.seconds < 30
    assert "rank 0 of 2 failed: barrier waited more than 2 s for the other ranks" in job.stderr


def test_models_that_differ_between_ranks_are_named(tmp_path):
    job = run_job(2, "mismatch", tmp_path, timeout=60, check=False)
    assert job.returncode != 0
    assert "rank 1's model differs from rank 0's: 0.weight: shape (16, 6) on rank 0, (17, 6) on rank 1" in job.stderr


def test_parameters_without_gradient_need_find_unused_parameters(tmp_path):
    job = run_job(2, "unused", tmp_path, timeout=60, check=False)
    assert (tmp_path / "rank0.txt").read_text() == (tmp_path / "rank1.txt").read_text()  # averaged alike
    assert job.returncode != 0
    assert ("DistributedDataParallel: the last backward gave no gradient to extra.weight, extra.bias" in job.stderr
            and "find_unused_parameters=True" in job.stderr), job.stderr


def test_ctrl_c_stops_every_rank_after_the_same_step(tmp_path):
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", LAMINA_KERNELS="0")
    proc = subprocess.Popen([mpiexec(), "-n", "2", sys.executable, str(WORKER), "fit-1000", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        proc.stderr.readline()  # rank 0's first line: training has started
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)  # mpiexec passes Ctrl-C on to every process
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    h0, h1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert h0["interrupted"] and h1["interrupted"]
    assert 0 < len(h0["epoch"]) == len(h1["epoch"]) < 1000
    assert weights(tmp_path).keys() == weights(tmp_path, 1).keys()
    assert all(np.array_equal(weights(tmp_path)[k], weights(tmp_path, 1)[k]) for k in weights(tmp_path))
