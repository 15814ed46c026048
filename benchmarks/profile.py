"""``python -m benchmarks.profile a``: cProfile of lamina's step, top functions by cumulative and by own time.

Workloads: a (MLP training step, batch 128 unless --batch), c (XOR training step), d (MLP inference).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats

from benchmarks import data
from benchmarks.harness import REPO
from benchmarks.nets import MLP, XOR, LaminaInference, LaminaTrainer

DEFAULT_STEPS = {"a": 200, "c": 5000, "d": 50}


def build(workload: str, batch: int | None, samples: int):
    if workload == "a":
        x, y = data.mnist_like(samples)
        return LaminaTrainer(MLP, data.initial_weights(MLP.sizes), x, y, batch or 128)
    if workload == "c":
        x, y = data.xor()
        return LaminaTrainer(XOR, data.initial_weights(XOR.sizes), x, y, 4)
    x, _ = data.mnist_like(samples)
    return LaminaInference(MLP, data.initial_weights(MLP.sizes), x, batch or 1024)


def profile(workload: str, steps: int | None = None, batch: int | None = None, top: int = 25,
            samples: int = 8192) -> str:
    """Warm up, profile ``steps`` steps, and return both tables as text."""
    side = build(workload, batch, samples)
    steps = steps or DEFAULT_STEPS[workload]
    side(max(1, steps // 10))
    profiler = cProfile.Profile()
    profiler.enable()
    side(steps)
    profiler.disable()
    out = io.StringIO()
    for key, label in (("cumulative", "cumulative time"), ("tottime", "own (total) time")):
        out.write(f"=== lamina, workload {workload}, {steps} steps: top {top} functions by {label} ===\n")
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(top)
    return out.getvalue().replace(os.path.join(REPO, "src", ""), "").replace(os.path.join(REPO, ""), "")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=sorted(DEFAULT_STEPS))
    parser.add_argument("--steps", type=int, help=f"steps to profile (default {DEFAULT_STEPS})")
    parser.add_argument("--batch", type=int, help="batch size for a and d (default 128 and 1024)")
    parser.add_argument("--top", type=int, default=25, help="functions listed per table (default 25)")
    args = parser.parse_args(argv)
    print(profile(args.workload, args.steps, args.batch, args.top))


if __name__ == "__main__":
    main()
