"""Fixtures shared across the test tree."""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture
def one_blas_thread():
    """BLAS on one thread: small products run as fast, and much faster when other jobs share the cores. A module
    asks for it with ``pytestmark = pytest.mark.usefixtures("one_blas_thread")``."""
    with threadpool_limits(1):
        yield
