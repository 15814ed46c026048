"""Workload h: the slow spots found in PyTorch scripts (issue 9), each forward + backward against PyTorch eager:
exact GELU on a (256, 1024) activation, x.pow(3.0) on the same, and a table lookup W[idx] (10,000 x 64 table,
8,192 indices with repeats) whose backward sums repeated rows. Target: within 1.5x of PyTorch's time."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Comparison, Settings, Target, interleave


def _sides(make_lamina, make_torch, peers):
    sides = {"lamina": make_lamina()}
    if "torch" in peers:
        sides["torch"] = make_torch()
    return sides


def _gelu(lib, x0):
    x = lib.tensor(x0, requires_grad=True)
    f = lib.nn.functional.gelu

    def run(n):
        for _ in range(n):
            x.grad = None
            f(x).sum().backward()
    return run


def _pow3(lib, x0):
    x = lib.tensor(x0, requires_grad=True)

    def run(n):
        for _ in range(n):
            x.grad = None
            x.pow(3.0).sum().backward()
    return run


def _lookup(lib, w0, idx0):
    w = lib.tensor(w0, requires_grad=True)
    idx = lib.tensor(idx0)

    def run(n):
        for _ in range(n):
            w.grad = None
            w[idx].sum().backward()
    return run


def run(settings: Settings, peers: list, only: str = "h") -> list:
    if "h" not in only:
        return []
    import torch

    import lamina

    rng = np.random.default_rng(0)
    shape = (32, 128) if settings.quick else (256, 1024)
    x0 = rng.standard_normal(shape).astype(np.float32)
    w0 = rng.standard_normal((1000 if settings.quick else 10_000, 64)).astype(np.float32)
    idx0 = rng.integers(0, w0.shape[0], 512 if settings.quick else 8192)
    steps = 3 if settings.quick else 30
    cases = [("h_gelu", f"exact GELU forward + backward, {shape}", lambda lib: _gelu(lib, x0)),
             ("h_pow3", f"x.pow(3.0) forward + backward, {shape}", lambda lib: _pow3(lib, x0)),
             ("h_lookup", f"W[idx] forward + backward, W {w0.shape}, {idx0.size} indices with repeats",
              lambda lib: _lookup(lib, w0, idx0))]
    comparisons = []
    for key, title, make in cases:
        sides = _sides(lambda make=make: make(lamina), lambda make=make: make(torch), peers)
        seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
        comparisons.append(Comparison(
            key=key, title=title, unit="s/step", values={k: [s / steps for s in v] for k, v in seconds.items()},
            ratio_kind="time speedup", targets={"torch": Target(">=", 1 / 1.5)},
            notes=[f"{steps} steps per side per round; a ratio of 1 means as fast as PyTorch, the target (within "
                   "1.5x of PyTorch's time) is a ratio of at least 0.67."]))
    return comparisons
