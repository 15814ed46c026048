"""Workload f: the NumPy floor, the 8 GEMMs of one (a) step alone, against lamina's whole training step."""

from __future__ import annotations

import numpy as np

from benchmarks import data
from benchmarks.harness import Comparison, Settings, Target, interleave
from benchmarks.nets import MLP, LaminaTrainer

FLOOR = "numpy matmul floor"


class MatmulFloor:
    """3 forward, 3 weight-gradient and 2 input-gradient products of the 784-512-256-10 MLP, np.matmul into
    preallocated float32 arrays, on the same batches and weights as the training step. The weights are in
    Fortran order, as lamina's Linear keeps them, so these are the very products lamina's step runs."""

    def __init__(self, weights: list, x: np.ndarray, batch: int):
        (self.w1, _), (self.w2, _), (self.w3, _) = ((np.asfortranarray(w), b) for w, b in weights)
        self.batches = [x[s] for s in data.batch_slices(len(x), batch)]
        self.h1 = np.empty((batch, 512), np.float32)
        self.h2 = np.empty((batch, 256), np.float32)
        self.out = np.empty((batch, 10), np.float32)
        rng = np.random.default_rng(data.SEED)
        self.g_out = (rng.standard_normal((batch, 10), dtype=np.float32) / batch).astype(np.float32)
        self.g_h2 = np.empty((batch, 256), np.float32)
        self.g_h1 = np.empty((batch, 512), np.float32)
        self.g_w1, self.g_w2, self.g_w3 = (np.empty_like(w) for w in (self.w1, self.w2, self.w3))
        self.position = 0

    def __call__(self, steps: int) -> None:
        matmul = np.matmul
        for _ in range(steps):
            x = self.batches[self.position % len(self.batches)]
            self.position += 1
            matmul(x, self.w1.T, out=self.h1)  # forward
            matmul(self.h1, self.w2.T, out=self.h2)
            matmul(self.h2, self.w3.T, out=self.out)
            matmul(self.h2.T, self.g_out, out=self.g_w3.T)  # backward: weight gradients Gᵀ·h (in W's order)
            matmul(self.g_out, self.w3, out=self.g_h2)  # and input gradients G·W
            matmul(self.h1.T, self.g_h2, out=self.g_w2.T)
            matmul(self.g_h2, self.w2, out=self.g_h1)
            matmul(x.T, self.g_h1, out=self.g_w1.T)


def floor_vs_step(settings: Settings, batch: int) -> Comparison:
    x, y = data.mnist_like(settings.samples)
    weights = data.initial_weights(MLP.sizes)
    sides = {"lamina": LaminaTrainer(MLP, weights, x, y, batch), FLOOR: MatmulFloor(weights, x, batch)}
    steps = settings.steps[batch]
    seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
    values = {name: [1000 * s / steps for s in secs] for name, secs in seconds.items()}
    return Comparison(
        key=f"f{batch}", title=f"lamina's training step (a) vs its 8 GEMMs alone in NumPy, batch {batch}",
        unit="ms/step", values=values, ratio_kind="overhead", targets={FLOOR: Target("<=", 1.3)},
        notes=["The floor: per step, 3 forward (x·W1ᵀ, h1·W2ᵀ, h2·W3ᵀ), 3 weight-gradient (gᵀ·h) and 2 input-"
               "gradient (g·W) products with np.matmul into preallocated float32 arrays, on the same batches and "
               "weights, kept in Fortran order as lamina's Linear keeps them (the products lamina runs); nothing "
               "else (no bias, activation, loss or optimizer work).",
               f"{steps} steps per side per round, after {settings.warmup(steps)} warm-up steps. The ratio is "
               "lamina's step time / the floor's (lower is better)."])


def run(settings: Settings, peers: list, only: str = "f") -> list:
    if "f" not in only:
        return []
    return [floor_vs_step(settings, 128), floor_vs_step(settings, 1024)]
