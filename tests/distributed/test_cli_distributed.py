"""`mpiexec -n P lamina train`: one run folder written by rank 0, resumable at another number of processes."""

import json

from mpi_jobs import run_python

TRAIN = ["-m", "lamina.cli", "train", "--data", "xor", "--hidden", "8", "--no-progress"]


def test_train_under_mpiexec_writes_one_run_and_resumes_at_another_world_size(tmp_path):
    run = tmp_path / "run"
    job = run_python(2, TRAIN + ["--epochs", "2", "--out", str(run)])
    assert job.stdout.count("run saved to") == 1 and job.stdout.count("test accuracy") == 1  # rank 0 alone
    assert "lamina.distributed: 2 processes" in job.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert {"config.json", "checkpoint.ckpt", "history.json", "metrics.json", "model.safetensors"} <= {
        p.name for p in run.iterdir()}
    first = json.loads((run / "history.json").read_text())["history"]["loss"]
    job = run_python(3, ["-m", "lamina.cli", "train", "--resume", str(run), "--epochs", "4", "--no-progress"])
    assert "batch_size 4: 2 per process, a global batch of 6" in job.stderr
    resumed = json.loads((run / "history.json").read_text())["history"]["loss"]
    assert len(resumed) == 4 and resumed[:2] == first  # the two epochs of the checkpoint, then two more
    assert resumed[3] < resumed[1]


def test_an_error_under_mpiexec_ends_the_job_naming_the_rank(tmp_path):
    job = run_python(2, ["-m", "lamina.cli", "train", "--resume", str(tmp_path / "missing")], check=False)
    assert job.returncode != 0
    assert "lamina.distributed: rank 0 of 2 failed: CLIError: run folder" in job.stderr
