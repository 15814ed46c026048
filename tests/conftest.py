"""Fixtures shared across the test tree."""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture
def one_blas_thread():
    """BLAS on one thread: small products run as fast, and much faster when other jobs share the cores. A module
    asks for it with ``pytestmark = pytest.mark.usefixtures("one_blas_thread")``."""
    with threadpool_limits(1):
        yield


@pytest.fixture
def signal_pending_at(monkeypatch):
    """``signal_pending_at(signum, k)``: from then on, the k-th call of ``signal.signal`` (counted from 0) finds
    ``signum`` pending. A stand-in for ``signal.signal`` sends it just before it swaps, so its handler runs first
    and, when it raises, the swap does not happen: what CPython does with a pending signal. Returns the list of the
    signals swapped so far."""
    import signal

    def pending_at(signum, k):
        real, calls = signal.signal, []

        def swap(s, handler):
            calls.append(s)
            if len(calls) - 1 == k:
                signal.raise_signal(signum)
            return real(s, handler)

        monkeypatch.setattr(signal, "signal", swap)
        return calls

    return pending_at
