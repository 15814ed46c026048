"""Workload c: a 2-8-1 tanh/sigmoid network on XOR, batch 4, SGD and BCE; steps/s measures per-op overhead."""

from __future__ import annotations

from benchmarks import data
from benchmarks.harness import Comparison, Settings, Target, interleave
from benchmarks.nets import JAX_NOTE, PEER_NOTE, TRAINERS, XOR


def run(settings: Settings, peers: list, only: str = "c") -> list:
    if "c" not in only:
        return []
    x, y = data.xor()
    weights = data.initial_weights(XOR.sizes)
    sides = {name: TRAINERS[name](XOR, weights, x, y, 4) for name in ["lamina", *peers]}
    steps = settings.steps["xor"]
    seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
    values = {name: [steps / s for s in secs] for name, secs in seconds.items()}
    losses = ", ".join(f"{name} {side.loss:.4f}" for name, side in sides.items())
    return [Comparison(
        key="c", title=f"XOR 2-8-1 (tanh, sigmoid output), BCE, SGD (lr {XOR.lr:g}), batch 4", unit="steps/s",
        values=values, targets={"torch": Target(">=", 5.0)},
        notes=["The four XOR points are the one batch; same initial weights for every side.",
               f"{steps} training steps per side per round, after {settings.warmup(steps)} warm-up steps.",
               f"BCE after all steps (same trajectory check): {losses}.",
               PEER_NOTE, *([JAX_NOTE] if "jax" in peers else [])])]
