"""Launching MPI jobs from the tests: `mpiexec -n P python mpi_worker.py SCENARIO OUT` in a subprocess with a
timeout (the tests skip where mpi4py or mpiexec is missing: `pip install 'lamina[mpi]'`)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("mpi_worker.py")


def mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"  # the mpich wheel puts it in the environment's bin
    return str(beside) if beside.exists() else shutil.which("mpiexec")


class Job:
    def __init__(self, proc: subprocess.CompletedProcess, seconds: float):
        self.returncode, self.stdout, self.stderr, self.seconds = proc.returncode, proc.stdout, proc.stderr, seconds


def run_job(n, scenario, out, timeout=60, check=True) -> Job:
    """Run the worker's ``scenario`` in ``n`` processes (n=None: a plain process, a job of one)."""
    return run_python(n, [str(WORKER), scenario, str(out)], timeout, check)


def run_python(n, args, timeout=60, check=True) -> Job:
    """`mpiexec -n N python ARGS...` (N=None: a plain `python ARGS...`)."""
    pytest.importorskip("mpi4py")
    if mpiexec() is None:
        pytest.skip("no mpiexec (pip install mpich)")
    cmd = [sys.executable] + list(args)
    if n is not None:
        cmd = [mpiexec(), "-n", str(n)] + cmd
    # one BLAS thread per process; no numba kernels (their NumPy twins are bit-identical): quicker start-up
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", LAMINA_KERNELS="0")
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    job = Job(proc, time.perf_counter() - started)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return job
