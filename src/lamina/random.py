"""One seeded source of randomness for the whole library (initialisation, dropout, shuffling).

A fresh process starts from a seed drawn from the operating system, as PyTorch: call ``lamina.manual_seed(n)``
for runs that repeat bit for bit.
"""

from __future__ import annotations

import numpy as np

_state = {}  # "rng": the global generator; "seed": the seed it started from


def _start(seed: int) -> None:
    _state["rng"], _state["seed"] = np.random.default_rng(seed), seed


class Generator:
    """A separate random stream, as ``torch.Generator``: ``Generator().manual_seed(1)``."""

    def __init__(self):
        self.rng = np.random.default_rng()

    def manual_seed(self, seed: int) -> Generator:
        self.rng = np.random.default_rng(int(seed))
        return self

    def get_state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def manual_seed(seed: int) -> None:
    """Seed every source of randomness lamina uses: the same seed gives bit-identical runs."""
    _start(int(seed))


def seed() -> int:
    """Seed from the operating system's entropy and return the seed used (what a fresh process does, as PyTorch)."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed the global generator started from: the one given to ``manual_seed``, else the one drawn from the
    operating system when lamina was imported."""
    return _state["seed"]


def rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy Generator to draw from: the given one, else the global one."""
    return generator.rng if generator is not None else _state["rng"]


def get_rng_state() -> dict:
    """The global generator's state (a JSON-friendly dict), for checkpoints."""
    return _state["rng"].bit_generator.state


def set_rng_state(state: dict) -> None:
    _state["rng"].bit_generator.state = state


seed()  # a fresh process draws its seed from the OS, as PyTorch; manual_seed makes runs repeatable
