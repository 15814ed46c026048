"""One seeded source of randomness for the whole library (initialisation, dropout, shuffling)."""

from __future__ import annotations

import numpy as np

_state = {"rng": np.random.default_rng(0)}


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
    _state["rng"] = np.random.default_rng(int(seed))


def seed() -> int:
    """Seed from the operating system's entropy and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy Generator to draw from: the given one, else the global one."""
    return generator.rng if generator is not None else _state["rng"]


def get_rng_state() -> dict:
    """The global generator's state (a JSON-friendly dict), for checkpoints."""
    return _state["rng"].bit_generator.state


def set_rng_state(state: dict) -> None:
    _state["rng"].bit_generator.state = state
