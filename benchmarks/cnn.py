"""Workload j: convolutional networks against PyTorch eager (issue 10, part 5).

j_lenet   LeNet-5 (Conv 6@5×5 'same', max pool 2, Conv 16@5×5, max pool 2, 120, 84, 10; ReLU) on 1×28×28,
          cross-entropy, Adam, batch 64: training samples/s.                                  target ≥ 1.0x
j_conv    one 3×3 convolution 32→64 (padding 1) on 14×14, batch 128, forward + backward (input, weight and
          bias gradients): time per step, as PyTorch's time / lamina's.                       target ≥ 0.67x
j_conv1d  a 1-D convnet (Conv1d 1→25 k5, 25→25 k3, 25→25 k3, all stride 2, ReLU, then Linear 75→4) on
          40-sample signals, batch 100, Adam: training steps/s.                               target ≥ 2x
j_infer   LeNet-5 inference at batch 1024 (eval, no_grad): samples/s.                         target ≥ 1.0x
j_traced  lamina's peak traced NumPy allocation while training LeNet-5 against the analytic minimum  ≤ 2x
j_rss     peak RSS of a process training LeNet-5, lamina against PyTorch                      target < 1x

The memory figures come from fresh processes: ``python -m benchmarks.cnn PROBE`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import subprocess
import sys

import numpy as np

from benchmarks.data import SEED, batch_slices
from benchmarks.harness import REPO, Comparison, Settings, Target, interleave
from benchmarks.memory import MiB, peak_rss, traced_steps
from benchmarks.nets import EagerTrainer

PROBES = ("baseline", "lamina", "torch", "lamina-tracemalloc")
LENET_BATCH, CONV1D_BATCH, INFER_BATCH = 64, 100, 1024
SIGNAL, SIGNAL_CLASSES = 40, 4
PEER_NOTE = ("lamina: the public API (model(x), loss_fn(out, y), zero_grad(), backward(), step()); PyTorch: the same "
             "eager code with torch.nn and torch.optim defaults (oneDNN convolutions).")


# ---------------------------------------------------------------------------------------------------
# data and models
# ---------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def images(samples: int, seed: int = SEED) -> tuple:
    """``samples`` 1×28×28 float32 images in [0, 1) and int64 labels of 10 classes from a fixed linear teacher."""
    rng = np.random.default_rng(seed)
    x = rng.random((samples, 1, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((784, 10), dtype=np.float32)
    y = np.argmax((x.reshape(samples, -1) - 0.5) @ teacher, axis=1).astype(np.int64)
    return x, y


@functools.lru_cache(maxsize=1)
def signals(samples: int, seed: int = SEED) -> tuple:
    """``samples`` noisy sines of 40 samples, (N, 1, 40) float32; the label is one of 4 frequencies."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, SIGNAL_CLASSES, samples)
    t = np.arange(SIGNAL, dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi, (samples, 1)).astype(np.float32)
    x = np.sin(2 * np.pi * (y[:, None] + 1) * t / SIGNAL + phase) + 0.3 * rng.standard_normal((samples, SIGNAL))
    return x.astype(np.float32)[:, None, :], y.astype(np.int64)


def lenet(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def convnet1d(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv1d(1, 25, 5, stride=2), nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2), nn.ReLU(),
                         nn.Conv1d(25, 25, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(75, SIGNAL_CLASSES))


MODELS = {"lenet": lenet, "convnet1d": convnet1d}


@functools.lru_cache(maxsize=4)
def initial_weights(model: str, seed: int = SEED) -> tuple:
    """One array per parameter (in parameters() order), drawn U(−1/√fan_in, 1/√fan_in) as PyTorch's default."""
    import lamina

    rng = np.random.default_rng(seed)
    shapes = [tuple(p.shape) for p in MODELS[model](lamina).parameters()]
    out, fan_in = [], 1
    for shape in shapes:
        if len(shape) > 1:
            fan_in = int(np.prod(shape[1:]))
        bound = 1.0 / np.sqrt(fan_in)  # a bias follows its weight
        out.append(rng.uniform(-bound, bound, shape).astype(np.float32))
    return tuple(out)


def build(lib, model: str):
    net = MODELS[model](lib)
    with lib.no_grad():
        for p, w in zip(net.parameters(), initial_weights(model)):
            p.copy_(lib.from_numpy(w))
    return net


class Trainer(EagerTrainer):
    """The eager training loop of either library (their APIs are the same): nets.EagerTrainer's step on a CNN."""

    def __init__(self, library: str, model: str, x: np.ndarray, y: np.ndarray, batch: int):
        lib = importlib.import_module(library)
        self.model = build(lib, model)
        self.loss_fn = lib.nn.CrossEntropyLoss()
        self.optimizer = lib.optim.Adam(self.model.parameters(), lr=1e-3)
        self.batches = [(lib.from_numpy(x[s]), lib.from_numpy(y[s])) for s in batch_slices(len(x), batch)]
        self.position = 0
        self.loss = float("nan")


class Inference:
    def __init__(self, library: str, model: str, x: np.ndarray, batch: int):
        self.lib = importlib.import_module(library)
        self.model = build(self.lib, model).eval()
        self.batches = [self.lib.from_numpy(x[s]) for s in batch_slices(len(x), batch)]
        self.position = 0

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            with self.lib.no_grad():
                self.out = self.model(self.batches[self.position % len(self.batches)])
            self.position += 1


class ConvStep:
    """y = conv2d(x, W, b, padding=1); y.backward(G): the input, weight and bias gradients."""

    def __init__(self, library: str, x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray):
        self.lib = importlib.import_module(library)
        lib = self.lib
        self.x, self.w, self.b = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        self.g = lib.from_numpy(g)

    def __call__(self, steps: int) -> None:
        conv2d = self.lib.nn.functional.conv2d
        x, w, b, g = self.x, self.w, self.b, self.g
        for _ in range(steps):
            x.grad = w.grad = b.grad = None
            conv2d(x, w, b, padding=1).backward(g)

    def grads(self) -> list:
        return [t.grad.numpy() for t in (self.x, self.w, self.b)]


def _sides(make, peers: list) -> dict:
    return {name: make(name) for name in ["lamina", *(p for p in peers if p == "torch")]}


# ---------------------------------------------------------------------------------------------------
# the timed comparisons
# ---------------------------------------------------------------------------------------------------
def train(settings: Settings, peers: list, model: str) -> Comparison:
    if model == "lenet":
        x, y = images(2048 if settings.quick else 8192)
        batch, steps = LENET_BATCH, (2 if settings.quick else 30)
    else:
        x, y = signals(1000 if settings.quick else 10_000)
        batch, steps = CONV1D_BATCH, (3 if settings.quick else 200)
    sides = _sides(lambda lib: Trainer(lib, model, x, y, batch), peers)
    seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
    losses = ", ".join(f"{name} {side.loss:.4f}" for name, side in sides.items())
    common = [f"{steps} training steps per side per round, after {settings.warmup(steps)} warm-up steps; the same "
              f"initial weights (seed {SEED}) and batches on every side.",
              f"Cross-entropy of the last batch after all steps (same trajectory check): {losses}.", PEER_NOTE]
    if model == "lenet":
        return Comparison(
            key="j_lenet", title=f"LeNet-5 training on 1×28×28, Adam (lr 1e-3), batch {batch}", unit="samples/s",
            values={k: [steps * batch / s for s in v] for k, v in seconds.items()},
            targets={"torch": Target(">=", 1.0)},
            notes=[f"Data: {len(x):,} random 1×28×28 float32 images in [0, 1), labels of 10 classes from a fixed "
                   "linear teacher; consecutive batches cycled in order.", *common])
    return Comparison(
        key="j_conv1d", title=f"1-D convnet (Conv1d 1→25 k5, 25→25 k3, 25→25 k3, stride 2; Linear 75→4) on "
                              f"{SIGNAL}-sample signals, Adam, batch {batch}", unit="steps/s",
        values={k: [steps / s for s in v] for k, v in seconds.items()}, targets={"torch": Target(">=", 2.0)},
        notes=[f"Data: {len(x):,} noisy sines of {SIGNAL} samples, 4 frequencies as the classes.", *common])


def conv_step(settings: Settings, peers: list) -> Comparison:
    rng = np.random.default_rng(SEED)
    n = 8 if settings.quick else 128
    x = rng.standard_normal((n, 32, 14, 14), dtype=np.float32)
    w = (rng.standard_normal((64, 32, 3, 3), dtype=np.float32) / 17).astype(np.float32)
    b = rng.standard_normal(64, dtype=np.float32)
    g = rng.standard_normal((n, 64, 14, 14), dtype=np.float32)
    sides = _sides(lambda lib: ConvStep(lib, x, w, b, g), peers)
    steps = 2 if settings.quick else 8
    seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
    agree = ""
    if "torch" in sides:
        diffs = [float(np.max(np.abs(a - t)) / max(1e-12, float(np.max(np.abs(t)))))
                 for a, t in zip(sides["lamina"].grads(), sides["torch"].grads())]
        agree = (" Largest difference from PyTorch's gradients, relative to their largest magnitude (input, weight, "
                 "bias): " + ", ".join(f"{d:.1e}" for d in diffs) + ".")
    return Comparison(
        key="j_conv", title=f"Conv2d 3×3, 32→64 channels, padding 1, on 14×14, batch {n}: forward + backward",
        unit="s/step", values={k: [s / steps for s in v] for k, v in seconds.items()}, ratio_kind="time speedup",
        targets={"torch": Target(">=", 1 / 1.5)},
        notes=[f"{steps} steps per side per round: F.conv2d(x, W, b, padding=1).backward(G) with x, W and b "
               "requiring gradients. A ratio of 1 means as fast as PyTorch; the target (within 1.5x of PyTorch's "
               "time) is a ratio of at least 0.67." + agree])


def inference(settings: Settings, peers: list) -> Comparison:
    x, _ = images(2048 if settings.quick else 8192)
    batch = 256 if settings.quick else INFER_BATCH
    sides = _sides(lambda lib: Inference(lib, "lenet", x, batch), peers)
    steps = 2 if settings.quick else 8
    seconds = interleave(sides, steps, settings.repeats, settings.warmup(steps))
    agree = ""
    if "torch" in sides:
        agree = (" Largest |logit difference| from PyTorch's on the last batch: "
                 f"{float(np.max(np.abs(sides['lamina'].out.numpy() - sides['torch'].out.numpy()))):.1e}.")
    return Comparison(
        key="j_infer", title=f"LeNet-5 inference, batch {batch} (eval mode, no_grad)", unit="samples/s",
        values={k: [steps * batch / s for s in v] for k, v in seconds.items()}, targets={"torch": Target(">=", 1.0)},
        notes=[f"{steps} forward passes per side per round, after {settings.warmup(steps)} warm-up passes." + agree])


# ---------------------------------------------------------------------------------------------------
# memory: fresh processes
# ---------------------------------------------------------------------------------------------------
LENET_PARAMETERS = (6 * 25 + 6) + (16 * 150 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
# floats per sample that the backward pass must keep: conv1's columns (25 × 28·28), ReLU 1's output (6 × 28·28),
# conv2's columns (150 × 10·10), ReLU 2's output (16 × 10·10), pool 2's output (400, Linear 1's input), ReLU 3
# and 4 (120, 84), the softmax (10)
LENET_KEPT = 25 * 784 + 6 * 784 + 150 * 100 + 16 * 100 + 400 + 120 + 84 + 10
LENET_COLUMN_GRADIENT = 150 * 100  # floats per sample: conv2's column gradient, made while the above are held


def analytic_minimum(batch: int) -> int:
    """Bytes: 4 × (4P + B × (kept + column gradient)): parameters, gradients, Adam's moments, saved activations and
    the column buffers of an im2col convolution (conv1's and conv2's columns, conv2's column gradient)."""
    return 4 * (4 * LENET_PARAMETERS + batch * (LENET_KEPT + LENET_COLUMN_GRADIENT))


def traced_peak(x, y, batch: int, steps: int, warmup: int = 2) -> int:
    """Peak bytes of NumPy buffers while lamina trains LeNet-5 (memory.traced_peak's method)."""
    from lamina.ops import scratch

    Trainer("lamina", "lenet", x[:batch], y[:batch], batch)(1)  # imports and first calls, untraced
    scratch.clear()  # the scratch buffers of that step are made again below, traced
    return traced_steps(lambda: Trainer("lamina", "lenet", x, y, batch), steps, warmup)


def probe(kind: str, samples: int, steps: int, threads: int) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    x, y = images(samples)
    result = {"probe": kind}
    if kind == "torch":
        import torch

        torch.set_num_threads(threads)
        Trainer("torch", "lenet", x, y, LENET_BATCH)(steps)
    elif kind == "lamina":
        Trainer("lamina", "lenet", x, y, LENET_BATCH)(steps)
    elif kind == "lamina-tracemalloc":
        result["traced_peak"] = traced_peak(x, y, LENET_BATCH, steps)
    elif kind != "baseline":
        raise ValueError(f"unknown memory probe {kind!r}; expected one of {', '.join(PROBES)}")
    result["peak_rss"] = peak_rss()
    return result


def run_probe(kind: str, samples: int, steps: int, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "benchmarks.cnn", kind, "--samples", str(samples), "--steps", str(steps),
           "--threads", str(threads)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe {kind!r} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory(settings: Settings, threads: int) -> list:
    samples, steps = (1024, 3) if settings.quick else (8192, 20)
    probes = {kind: run_probe(kind, samples, steps, threads) for kind in PROBES}
    minimum = analytic_minimum(LENET_BATCH)
    traced = Comparison(
        key="j_traced", title=f"lamina's peak traced NumPy allocation training LeNet-5, batch {LENET_BATCH}, vs the "
                              "analytic minimum", unit="MiB",
        values={"lamina": [probes["lamina-tracemalloc"]["traced_peak"] / MiB], "analytic minimum": [minimum / MiB]},
        ratio_kind="overhead", targets={"analytic minimum": Target("<=", 2.0)},
        notes=[f"Analytic minimum = 4 bytes x (4P + B x ({LENET_KEPT:,} + {LENET_COLUMN_GRADIENT:,})): parameters, "
               f"gradients and Adam's two moments (P = {LENET_PARAMETERS:,}), plus per sample what the backward pass "
               "must keep: conv1's column buffer (25 x 28·28), ReLU 1's output (6 x 28·28), conv2's column buffer "
               "(150 x 10·10), ReLU 2's output (16 x 10·10), pool 2's output (400), ReLU 3 and 4 (120 + 84) and the "
               "softmax (10); and the column gradient of conv2 (150 x 10·10), which its backward pass makes while "
               f"those are held (conv1's input needs no gradient). B = {LENET_BATCH}: {minimum:,} bytes. Without the "
               f"column gradient the minimum would be {minimum - 4 * LENET_BATCH * LENET_COLUMN_GRADIENT:,} bytes.",
               f"Measured as (g): a fresh process, tracemalloc from before the model is built, the peak over {steps} "
               "steps after 2 warm-up steps. The scratch buffers the convolutions reuse between steps (column "
               "matrices and GEMM results, lamina.ops.scratch) are made while tracing and count."])
    rss = Comparison(
        key="j_rss", title=f"peak RSS of a process training LeNet-5, batch {LENET_BATCH}", unit="MiB",
        values={"lamina": [probes["lamina"]["peak_rss"] / MiB], "torch": [probes["torch"]["peak_rss"] / MiB],
                "baseline (NumPy + data only)": [probes["baseline"]["peak_rss"] / MiB]},
        ratio_kind="overhead", targets={"torch": Target("<", 1.0)},
        notes=[f"Each figure is the VmHWM of its own fresh process that imports only its library, makes the same "
               f"{samples:,} images, builds LeNet-5 and runs {steps} training steps ({threads} BLAS thread(s))."])
    return [traced, rss]


def run(settings: Settings, peers: list, only: str = "j", threads: int = 1) -> list:
    if "j" not in only:
        return []
    return [train(settings, peers, "lenet"), conv_step(settings, peers), train(settings, peers, "convnet1d"),
            inference(settings, peers), *memory(settings, threads)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=PROBES)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.probe, args.samples, args.steps, args.threads)))


if __name__ == "__main__":
    main()
