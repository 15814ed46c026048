"""How many threads lamina's matrix products use: ``set_num_threads`` / ``get_num_threads``, as PyTorch names them.

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

_limits = None  # the threadpoolctl limiter in force, kept so the limit lasts


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for BLAS (and any OpenMP pool NumPy or numba loaded), as ``torch.set_num_threads``."""
    global _limits
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    from threadpoolctl import threadpool_limits  # inspects the loaded libraries (ms): only when asked

    _limits = threadpool_limits(limits=n)


def get_num_threads() -> int:
    """The number of threads BLAS uses for a product (the largest of the loaded BLAS pools)."""
    from threadpoolctl import threadpool_info  # as in set_num_threads

    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts) if counts else 1


def _from_environment() -> None:
    value = os.environ.get("LAMINA_NUM_THREADS")
    if value:
        try:
            set_num_threads(int(value))
        except ValueError:
            raise ValueError(f"LAMINA_NUM_THREADS must be a positive integer, got {value!r}") from None
