"""Workloads a, b, d: the MNIST-shaped MLP 784-512-256-10, trained with Adam at batch 128, 32, 1024; inference."""

from __future__ import annotations

import numpy as np

from benchmarks import data
from benchmarks.harness import Comparison, Settings, Target, interleave
from benchmarks.nets import INFERENCE, JAX_NOTE, MLP, PEER_NOTE, TRAINERS

TRAIN_TARGETS = {128: 1.3, 32: 1.2, 1024: 1.1}


def _data_note(settings: Settings, x: np.ndarray, batch: int) -> str:
    batches = len(x) // batch
    return (f"Data: synthetic MNIST-shaped, {len(x):,} x 784 float32 in [0, 1), labels from a fixed random linear "
            f"teacher; {batches} consecutive batches of {batch}, cycled in order (no shuffling), the same batches "
            f"for every side. Same initial weights (seed {data.SEED}) for every side.")


def train(settings: Settings, peers: list, batch: int, key: str) -> Comparison:
    """Training samples/s at one batch size: lamina vs each peer, interleaved rounds."""
    x, y = data.mnist_like(settings.samples)
    weights = data.initial_weights(MLP.sizes)
    sides = {name: TRAINERS[name](MLP, weights, x, y, batch) for name in ["lamina", *peers]}
    steps = settings.steps[batch]
    seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
    values = {name: [steps * batch / s for s in secs] for name, secs in seconds.items()}
    losses = ", ".join(f"{name} {side.loss:.4f}" for name, side in sides.items())
    return Comparison(
        key=key, title=f"MLP 784-512-256-10 training, Adam (lr 1e-3), batch {batch}", unit="samples/s",
        values=values, targets={"torch": Target(">=", TRAIN_TARGETS[batch])},
        notes=[_data_note(settings, x, batch),
               f"{steps} training steps per side per round, after {settings.warmup(steps)} warm-up steps.",
               f"Cross-entropy of the last batch after all steps (same trajectory check): {losses}.",
               PEER_NOTE, *([JAX_NOTE] if "jax" in peers else [])])


def inference(settings: Settings, peers: list, batch: int = 1024) -> Comparison:
    """Forward-only samples/s of (a)'s model in eval mode without graph recording."""
    x, _ = data.mnist_like(settings.samples)
    weights = data.initial_weights(MLP.sizes)
    sides = {name: INFERENCE[name](MLP, weights, x, batch) for name in ["lamina", *peers]}
    steps = settings.steps["infer"]
    seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
    values = {name: [steps * batch / s for s in secs] for name, secs in seconds.items()}
    ref = sides["lamina"]
    ref.position = 0
    ref(1)
    agree = []
    for name, side in sides.items():
        if name != "lamina":
            side.position = 0
            side(1)
            agree.append(f"{name} {float(np.max(np.abs(side.output() - ref.output()))):.1e}")
    return Comparison(
        key="d", title=f"MLP 784-512-256-10 inference, batch {batch} (eval mode, no_grad)", unit="samples/s",
        values=values, targets={"torch": Target(">=", 1.2)},
        notes=[_data_note(settings, x, batch) + " The same initial weights are the model's weights.",
               f"{steps} forward passes per side per round, after {settings.warmup(steps)} warm-up passes.",
               "Largest |logit difference| from lamina's on the first batch: " + ", ".join(agree) + ".",
               *(["JAX: jax.jit of the forward pass, block_until_ready at the end of each round."]
                 if "jax" in peers else [])])


def run(settings: Settings, peers: list, only: str) -> list:
    out = []
    if "a" in only:
        out.append(train(settings, peers, 128, "a"))
    if "b" in only:
        out.append(train(settings, peers, 32, "b32"))
        out.append(train(settings, peers, 1024, "b1024"))
    if "d" in only:
        out.append(inference(settings, peers))
    return out
