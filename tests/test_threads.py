"""set_num_threads / get_num_threads (PyTorch's names) and LAMINA_NUM_THREADS."""

import os
import subprocess
import sys

import pytest

import lamina

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


def test_the_environment_sets_the_count_at_import():
    code = "import lamina; print(lamina.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LAMINA_NUM_THREADS": "1"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    bad = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LAMINA_NUM_THREADS": "many"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "LAMINA_NUM_THREADS must be a positive integer" in bad.stderr
