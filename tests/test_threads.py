"""set_num_threads / get_num_threads (PyTorch's names) and LAMINA_NUM_THREADS; the split of inference between
threads: lamina.threads.split, run and threads_for."""

import os
import subprocess
import sys
import threading
import time

import pytest

import lamina
from lamina import threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def test_set_and_get_num_threads():
    before = lamina.get_num_threads()
    try:
        lamina.set_num_threads(1)
        assert lamina.get_num_threads() == 1
    finally:
        lamina.set_num_threads(before)
    with pytest.raises(ValueError, match="positive integer"):
        lamina.set_num_threads(0)


def test_a_blas_loaded_after_the_count_was_set_does_not_raise_it():
    """numba loads SciPy's OpenBLAS, at its default count, after `lamina train --threads 1` has set NumPy's to 1:
    get_num_threads and the split of inference still see 1."""
    code = ("import numpy as np; from threadpoolctl import threadpool_limits; threadpool_limits(1); import lamina; "
            "from lamina import nn, threads\n"
            "with lamina.no_grad(): nn.MaxPool2d(2)(lamina.ones(2, 2, 4, 4))\n"
            "print(lamina.get_num_threads(), threads.threads_for(10**9))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


def test_the_environment_sets_the_count_at_import():
    code = "import lamina; print(lamina.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LAMINA_NUM_THREADS": "1"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    bad = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LAMINA_NUM_THREADS": "many"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "LAMINA_NUM_THREADS must be a positive integer" in bad.stderr


# -- inference shared between threads: lamina.threads.split, run, threads_for ---------------------------------

def _blas_count():
    """The thread count of the BLAS libraries lamina.threads controls (those loaded when it first looked: NumPy's)."""
    return max(pool["num_threads"] for pool in threads._blas().info())


@pytest.mark.parametrize("n, parts, expected", [
    (10, 2, [(0, 5), (5, 10)]),
    (7, 3, [(0, 2), (2, 4), (4, 7)]),
    (1, 4, [(0, 1)]),
    (3, 8, [(0, 1), (1, 2), (2, 3)]),
    (5, 1, [(0, 5)]),
])
def test_split_covers_the_items_in_order_in_near_equal_ranges(n, parts, expected):
    assert threads.split(n, parts) == expected


def test_threads_for_is_one_below_the_work_threshold_and_blas_count_above(monkeypatch):
    monkeypatch.setattr(threads, "_blas_threads", lambda: 3)
    assert threads.threads_for(threads.PARALLEL_WORK - 1) == 1
    assert threads.threads_for(threads.PARALLEL_WORK) == 3


def test_run_gives_each_range_to_a_thread_at_once_with_blas_on_one_thread():
    with threadpoolctl.threadpool_limits(2):
        before = _blas_count()
        seen, barrier = {}, threading.Barrier(2, timeout=10)

        def part(start, stop):
            barrier.wait()  # both ranges run at the same time, or this times out
            seen[(start, stop)] = (threading.get_ident(), _blas_count())

        threads.run(part, [(0, 3), (3, 6)])
        assert _blas_count() == before
    assert set(seen) == {(0, 3), (3, 6)}
    assert seen[(0, 3)][0] == threading.get_ident() and seen[(3, 6)][0] != threading.get_ident()
    assert [count for _, count in seen.values()] == [1, 1]


def test_a_worker_error_is_raised_after_every_range_ends_and_blas_is_put_back():
    done = []

    def part(start, stop):
        if start:
            raise ValueError(f"bad range {start}")
        time.sleep(0.05)
        done.append(start)

    with threadpoolctl.threadpool_limits(2):
        before = _blas_count()
        with pytest.raises(ValueError, match="bad range 4"):
            threads.run(part, [(0, 4), (4, 8)])
        assert _blas_count() == before
    assert done == [0]


def test_an_error_on_this_thread_waits_for_the_workers():
    done = []

    def part(start, stop):
        if not start:
            raise KeyboardInterrupt  # as Ctrl-C would, while the other range is still running
        time.sleep(0.1)
        done.append(start)

    with pytest.raises(KeyboardInterrupt):
        threads.run(part, [(0, 1), (1, 2)])
    assert done == [1]  # no worker writes on after run has returned
    assert not threads._section.locked()


def test_a_split_inside_a_split_runs_on_one_thread(monkeypatch):
    monkeypatch.setattr(threads, "_blas_threads", lambda: 2)
    inner = []

    def part(start, stop):
        inner.append(threads.threads_for(10 * threads.PARALLEL_WORK))

    threads.run(part, [(0, 1), (1, 2)])
    assert inner == [1, 1]
    assert threads.threads_for(10 * threads.PARALLEL_WORK) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_worker_threads_of_its_own():
    import multiprocessing

    threads.run(lambda a, b: None, [(0, 1), (1, 2)])  # the parent's workers exist before the fork
    child = multiprocessing.get_context("fork").Process(target=_split_in_child)
    child.start()
    child.join(30)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0


def _split_in_child():
    seen = []
    threads.run(lambda a, b: seen.append(a), [(0, 1), (1, 2)])
    assert sorted(seen) == [0, 1]
