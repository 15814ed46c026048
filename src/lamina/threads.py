"""How many threads lamina's matrix products use: ``set_num_threads`` / ``get_num_threads``, as PyTorch names them;
and how inference shares a large batch between that many threads (``threads_for``, ``split``, ``run``).

lamina's big products run in NumPy's BLAS (OpenBLAS in NumPy's wheels), whose threads spin while they wait for
each other. On a machine whose cores are busy with other work, that waiting dominates: measured on this project's
2-core machine under a load average of 6, one training step of a 784-512-256-10 MLP at batch 128 took 21 ms with
one BLAS thread and 153 ms (66-267 ms) with two. With the cores to itself, two threads are quicker for large
batches. So: use all cores on a machine of your own, and one thread (``lamina.set_num_threads(1)``, or
``LAMINA_NUM_THREADS=1`` in the environment) on a shared or busy one. The count is not changed behind your back:
results depend bit for bit on it (OpenBLAS splits the sums of a product differently), and seeded runs must repeat.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

_limits = None  # the threadpoolctl limiter in force, kept so the limit lasts


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for BLAS (and any OpenMP pool NumPy or numba loaded), as ``torch.set_num_threads``."""
    global _limits
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    from threadpoolctl import threadpool_limits  # inspects the loaded libraries (ms): only when asked

    _limits = threadpool_limits(limits=n)


def get_num_threads() -> int:
    """The number of threads BLAS uses for a product: the smallest count of the BLAS libraries loaded when lamina
    first looked. A library loaded later (numba brings SciPy's OpenBLAS) starts at its own default, so the largest
    could say 2 where NumPy's products run on the 1 thread set before."""
    return _blas_threads()


def _from_environment() -> None:
    value = os.environ.get("LAMINA_NUM_THREADS")
    if value:
        try:
            set_num_threads(int(value))
        except ValueError:
            raise ValueError(f"LAMINA_NUM_THREADS must be a positive integer, got {value!r}") from None


# -- inference on several threads ------------------------------------------------------------------------------
# When nothing is recorded for a backward pass, an op with enough work (a convolution, a max pool, a mid-sized
# product: see lamina/ops) shares its samples out between threads: each runs its part (compiled kernels that release
# the GIL, NumPy copies, BLAS products) while BLAS runs on one thread, since its own threads would compete with them
# for the cores and spin, waiting for work, long after a product ends (measured on this project's 2-core VM: a
# ReLU on two threads took 4.6 ms right after a 2-thread product, 2.7 ms without one). Training keeps one Python
# thread and BLAS's threads: there the products are most of the work. A pass over memory (ReLU) gains nothing from
# a second thread here and is not split.
#
# The count is BLAS's own (set_num_threads): with one BLAS thread nothing is split. The ranges depend only on the
# number of items and that count, and no item's arithmetic depends on the range it falls in, so the same thread
# count gives the same bits on every run.

PARALLEL_WORK = 2**18  # elements an op touches (multiply-adds for a product) before it is split; OpenBLAS, too,
# takes a second thread from 2**18 multiply-adds on. Handing a part to a worker costs ~0.15-0.2 ms on this VM.

_controller = None  # threadpoolctl's controller of the loaded BLAS, made on first use (it inspects the libraries: ms)
_pool = None  # (pid, ThreadPoolExecutor): the worker threads, made again in a forked child (threads do not fork)
_section = threading.Lock()  # held while a split op runs: one at a time sets BLAS's count and uses the workers


def _blas():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def _workers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1),
                                                 thread_name_prefix="lamina"))
    return _pool[1]


def threads_for(work: int) -> int:
    """How many threads an op with nothing recorded that touches ``work`` elements shares its items between: BLAS's
    thread count, or 1 when the work is under PARALLEL_WORK or a split op is running (in a worker, too)."""
    if work < PARALLEL_WORK or _section.locked():
        return 1
    return _blas_threads()


def _blas_threads() -> int:
    """BLAS's thread count now, as get_num_threads (a call into each library: about a microsecond)."""
    return min([lib.num_threads or 1 for lib in _blas().lib_controllers], default=1)


def split(n: int, parts: int) -> list:
    """[0, n) as ``parts`` consecutive (start, stop) ranges whose sizes differ by at most one (fewer when n is)."""
    parts = max(1, min(n, parts))
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


@contextmanager
def blas_alone():
    """BLAS on one thread for the block (when no split op is running: one at a time sets the count)."""
    if not _section.acquire(blocking=False):
        yield
        return
    try:
        with _blas().limit(limits=1):
            yield
    finally:
        _section.release()


def run(fn, ranges) -> None:
    """fn(start, stop) for every range: the first on this thread, the others on worker threads at the same time,
    BLAS on one thread meanwhile. Returns when all are done; raises the first error. One range: fn on this thread."""
    if len(ranges) == 1 or _section.locked():
        for start, stop in ranges:
            fn(start, stop)
        return
    with blas_alone():
        futures = [_workers().submit(fn, start, stop) for start, stop in ranges[1:]]
        try:
            fn(*ranges[0])
        finally:
            wait(futures)  # even on an error or Ctrl-C here: no worker writes on after we return
        for future in futures:
            future.result()
