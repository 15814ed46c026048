"""Timing harness: settings, threads, the environment record, interleaved rounds and their statistics.

A comparison runs every side (lamina first, then each peer) for the same number of steps, round after
round, so that a machine that drifts between a fast and a slow state slows every side alike; the
ratio of two sides is then computed from the rounds of the same run.
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = "abcdefghij"


@dataclass
class Settings:
    """How much work each comparison does; ``quick`` is the tiny setting that only checks the suite runs."""

    quick: bool = False
    repeats: int = 10  # timed rounds per comparison (each side once per round)
    samples: int = 60_000  # rows of the synthetic MNIST-shaped data set, cycled in order
    steps: dict = field(default_factory=lambda: {32: 200, 128: 100, 1024: 15, "xor": 1000, "infer": 40})
    warmup_fraction: float = 0.25  # warm-up steps per side, before round 1, as a fraction of a round
    digits_target: float = 0.97
    digits_max_epochs: int = 100
    memory_steps: int = 30  # training steps in each fresh memory-probe process

    @classmethod
    def tiny(cls, repeats: int = 1) -> Settings:
        return cls(quick=True, repeats=repeats, samples=1024,
                   steps={32: 3, 128: 3, 1024: 2, "xor": 20, "infer": 2},
                   digits_target=0.80, digits_max_epochs=3, memory_steps=3)

    def warmup(self, steps: int) -> int:
        return max(1, round(steps * self.warmup_fraction))


# ---------------------------------------------------------------------------------------------------
# threads and environment
# ---------------------------------------------------------------------------------------------------
def numpy_blas_threads() -> int:
    """Threads of the BLAS that NumPy links (read with threadpoolctl)."""
    from threadpoolctl import threadpool_info

    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    mine = [p for p in blas if "numpy" in p.get("filepath", "")] or blas
    return int(mine[0]["num_threads"]) if mine else 1


def set_threads(threads: int | None = None) -> int:
    """Limit NumPy's BLAS to ``threads`` (default: what it uses now) and give torch the same number."""
    if threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")
    threads = numpy_blas_threads()
    try:
        import torch
    except ImportError:
        return threads
    torch.set_num_threads(threads)
    return threads


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (src/ has uncommitted changes)" if dirty else "") or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    """Date, versions, CPU and threads: everything the report must state about the run."""
    import lamina

    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "lamina": f"{lamina.__version__}, commit {_git_commit()}",
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "load_average": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "load_1min_start": os.getloadavg()[0],
        "numpy_blas_threads": numpy_blas_threads(),
    }
    from threadpoolctl import threadpool_info

    env["thread_pools"] = [f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('user_api')}, "
                           f"{os.path.basename(p.get('filepath', ''))}): {p.get('num_threads')} threads"
                           for p in threadpool_info()]
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        env["torch"] = "not installed"
    try:
        import sklearn

        env["sklearn"] = sklearn.__version__
    except ImportError:
        env["sklearn"] = "not installed"
    env["jax"] = jax_version()
    return env


def jax_version() -> str | None:
    """JAX's version when ``import jax`` works, else None (the suite then skips the JAX peer)."""
    try:
        import jax
    except Exception:  # noqa: BLE001 - a broken install counts as absent
        return None
    return f"{jax.__version__} (backend {jax.default_backend()})"


# ---------------------------------------------------------------------------------------------------
# interleaved rounds
# ---------------------------------------------------------------------------------------------------
def interleave(sides: dict, steps: int, repeats: int, warmup: int) -> dict:
    """Run ``sides[name](n)`` (n steps) warm-up once, then ``repeats`` rounds of every side in turn.

    Returns the seconds each side took in each round: {name: [seconds, ...]}.
    """
    for run in sides.values():
        run(warmup)
    gc.collect()
    seconds = {name: [] for name in sides}
    for _ in range(repeats):
        for name, run in sides.items():
            gc.collect(1)  # the young garbage of the previous side is not this side's to collect
            start = time.perf_counter()
            run(steps)
            seconds[name].append(time.perf_counter() - start)
    return seconds


@dataclass
class Target:
    """An issue target for a ratio: ``ratio >= value``, ``ratio <= value`` or ``ratio < value``."""

    op: str
    value: float

    def check(self, ratio: float) -> bool:
        return {">=": ratio >= self.value, "<=": ratio <= self.value, "<": ratio < self.value}[self.op]

    def __str__(self):
        return f"{ {'>=': '≥', '<=': '≤', '<': '<'}[self.op]} {self.value:g}x"


@dataclass
class Comparison:
    """One workload's figures: per side, one value per round; and how to turn two sides into a ratio.

    ``ratio_kind`` is "speedup" for throughputs (lamina / peer), "time speedup" for times (peer / lamina)
    and "overhead" for times (lamina / peer).
    """

    key: str
    title: str
    unit: str
    values: dict  # side -> [value per round]
    ratio_kind: str = "speedup"
    targets: dict = field(default_factory=dict)  # peer -> Target
    notes: list = field(default_factory=list)

    def ratio(self, lamina_value: float, peer_value: float) -> float:
        if self.ratio_kind == "time speedup":
            return peer_value / lamina_value
        return lamina_value / peer_value

    def summary(self) -> dict:
        """Median and range of every side, and each peer's ratios (of medians, and median per round)."""
        out = {"sides": {}, "ratios": {}}
        for side, vals in self.values.items():
            out["sides"][side] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                                  "rounds": len(vals)}
        lamina = self.values.get("lamina")
        for peer, vals in self.values.items():
            if peer == "lamina" or lamina is None:
                continue
            of_medians = self.ratio(statistics.median(lamina), statistics.median(vals))
            per_round = statistics.median(self.ratio(a, b) for a, b in zip(lamina, vals))
            target = self.targets.get(peer)
            out["ratios"][peer] = {"of_medians": of_medians, "per_round_median": per_round,
                                   "target": str(target) if target else None,
                                   "pass": target.check(of_medians) if target else None}
        return out

