"""Workload g: memory of (a). lamina's traced NumPy peak against the analytic minimum, and peak RSS of lamina's
and PyTorch's (a), each in a fresh process (``python -m benchmarks.memory PROBE ...`` prints one JSON line).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks import data
from benchmarks.harness import REPO, Comparison, Settings, Target

MiB = 2**20
PROBES = ("baseline", "lamina", "torch", "lamina-tracemalloc")


def parameter_count(sizes: tuple) -> int:
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


def analytic_minimum(batch: int, sizes: tuple = data.MLP_SIZES) -> int:
    """Bytes that one Adam training step must hold: 4 bytes x (4P + B x (hidden widths + classes))."""
    return 4 * (4 * parameter_count(sizes) + batch * sum(sizes[1:]))


def probe(kind: str, batch: int, samples: int, steps: int, threads: int) -> dict:
    """Train (a) for ``steps`` steps in this process and measure it (the caller is a fresh process)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    x, y = data.mnist_like(samples)
    weights = data.initial_weights(data.MLP_SIZES)
    result = {"probe": kind}
    if kind == "torch":
        import torch

        from benchmarks.nets import MLP, TorchTrainer

        torch.set_num_threads(threads)
        TorchTrainer(MLP, weights, x, y, batch)(steps)
    elif kind == "lamina":
        from benchmarks.nets import MLP, LaminaTrainer

        LaminaTrainer(MLP, weights, x, y, batch)(steps)
    elif kind == "lamina-tracemalloc":
        result["traced_peak"] = traced_peak(x, y, weights, batch, steps)
    elif kind != "baseline":
        raise ValueError(f"unknown memory probe {kind!r}; expected one of {', '.join(PROBES)}")
    result["peak_rss"] = peak_rss()
    return result


def peak_rss() -> int:
    """This process's peak resident set, in bytes.

    Linux's ru_maxrss of a process started by fork + exec includes the parent's peak at the fork (the
    probes are started by a process holding the whole suite), so read the same high-water mark of this
    process's own memory, VmHWM; ru_maxrss only where /proc is missing.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def traced_peak(x, y, weights: list, batch: int, steps: int, warmup: int = 2) -> int:
    """Peak bytes of NumPy buffers while lamina trains (a), from tracemalloc.

    A throwaway step first does the one-time work (imports, JIT compilation of fused kernels) untraced.
    Tracing then starts before the model is built, so parameters, gradients and optimizer state count;
    the peak is taken over the steps after ``warmup`` steps. Python objects alive when those steps start
    are subtracted (tracemalloc keeps NumPy's buffers in their own domain); any made during them count.
    """
    from benchmarks.nets import MLP, LaminaTrainer

    LaminaTrainer(MLP, weights, x[:batch], y[:batch], batch)(1)  # imports and first calls, untraced (faster)
    return traced_steps(lambda: LaminaTrainer(MLP, weights, x, y, batch), steps, warmup)


def traced_steps(make_trainer, steps: int, warmup: int) -> int:
    """Peak bytes of NumPy buffers over ``steps`` calls of a trainer made (traced) by ``make_trainer``, after
    ``warmup`` steps, less the Python objects alive when those steps start."""
    import tracemalloc

    import numpy as np

    tracemalloc.start()
    trainer = make_trainer()
    trainer(warmup)
    numpy_domain = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)
    numpy_now = sum(t.size for t in tracemalloc.take_snapshot().filter_traces([numpy_domain]).traces)
    tracemalloc.reset_peak()
    everything_now = tracemalloc.get_traced_memory()[0]
    trainer(steps)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - (everything_now - numpy_now)


def run_probe(kind: str, batch: int, samples: int, steps: int, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "benchmarks.memory", kind, "--batch", str(batch), "--samples", str(samples),
           "--steps", str(steps), "--threads", str(threads)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe {kind!r} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(settings: Settings, peers: list, only: str = "g", threads: int = 1) -> list:
    if "g" not in only:
        return []
    batch, samples, steps = 128, settings.samples, settings.memory_steps
    probes = {kind: run_probe(kind, batch, samples, steps, threads) for kind in PROBES}
    minimum = analytic_minimum(batch)
    p = parameter_count(data.MLP_SIZES)
    h = " + ".join(str(n) for n in data.MLP_SIZES[1:])
    traced = Comparison(
        key="g_traced", title="lamina's peak traced NumPy allocation during (a), batch 128, vs the analytic minimum",
        unit="MiB", values={"lamina": [probes["lamina-tracemalloc"]["traced_peak"] / MiB],
                            "analytic minimum": [minimum / MiB]},
        ratio_kind="overhead", targets={"analytic minimum": Target("<=", 1.5)},
        notes=["Analytic minimum = 4 bytes x (4P + B x (512 + 256 + 10)): parameters, their gradients and "
               "Adam's two moments (4P floats), plus the activations the backward pass must keep, h1 (B x 512) "
               "and h2 (B x 256) after ReLU and the softmax of the logits (B x 10). "
               f"P = 784·512 + 512 + 512·256 + 256 + 256·10 + 10 = {p:,}; B = {batch}: "
               f"4 x ({4 * p:,} + {batch} x ({h})) = {minimum:,} bytes.",
               "The input batch is a view of the data set (not allocated by the step) and is counted on neither "
               "side. lamina's figure, in a fresh process, after one untraced throwaway step (imports, JIT "
               "compilation): tracemalloc (it sees NumPy's buffers) runs from before the model is built; its peak "
               f"over {steps} training steps that follow 2 warm-up steps, less the Python objects (not arrays) "
               "alive when those steps start. Parameters, gradients and optimizer state are included. The ratio "
               "is lamina / minimum (lower is better)."])
    rss = Comparison(
        key="g_rss", title="peak RSS of a process training (a), batch 128", unit="MiB",
        values={"lamina": [probes["lamina"]["peak_rss"] / MiB], "torch": [probes["torch"]["peak_rss"] / MiB],
                "baseline (NumPy + data only)": [probes["baseline"]["peak_rss"] / MiB]},
        ratio_kind="overhead", targets={"torch": Target("<", 1.0)},
        notes=[f"Each figure is the peak RSS of its own fresh Python process that imports only its library, makes "
               f"the same {samples:,} x 784 float32 data set, builds the model and runs {steps} training steps. "
               "The baseline process only imports NumPy and makes the data. The ratio is lamina / peer (lower "
               "is better).",
               "Peak RSS is read from VmHWM in /proc/self/status, the high-water mark that ru_maxrss reports, "
               "because on Linux a child's ru_maxrss also carries its parent's peak at the fork (here the whole "
               "suite's), which would give every probe the same figure."])
    return [traced, rss]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("probe", choices=PROBES)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.probe, args.batch, args.samples, args.steps, args.threads)))


if __name__ == "__main__":
    main()
