"""Data-parallel training step time on MPI, split into compute and communication, for 1, 2 and 4 processes.

    python -m benchmarks.distributed [--procs 1,2,4] [--steps 30] [--out FILE.md]

For each process count P it launches ``mpiexec -n P python -m benchmarks.distributed --worker``; each process runs
one BLAS thread and trains its own batch (weak scaling: the per-process batch is fixed, the global batch is P times
it), as ``fit(distributed=True)`` does: forward, backward and the optimizer step are *compute*; the averaging of
the gradients over the processes (``GradReducer``: packing into a flat buffer, one Allreduce, unpacking) is
*communication*, timed apart from *waiting* for the slowest process (a barrier just before it). Two models: the
benchmark suite's MLP 784-512-256-10 (batch 128 per process, Adam) and a LeNet-5 CNN on 1×28×28 images (batch 32
per process, Adam). A bare Allreduce of each model's gradient bytes (after a barrier: no waiting for stragglers)
gives the latency and bandwidth of the interconnect, the two constants of the cost model in docs/distributed.md.

This machine has 2 cores: P = 2 fills them, P = 4 oversubscribes them (two processes per core, and MPICH's waiting
processes spin), so the figures for 4 show the cost of oversubscription, not of scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODELS = {"mlp": 128, "cnn": 32}  # model -> batch per process


def build(name: str):
    from lamina import nn

    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def worker(steps: int) -> None:
    from threadpoolctl import threadpool_limits

    import lamina
    from lamina import distributed as dist
    from lamina import nn, optim
    from lamina.distributed import comm
    from lamina.distributed.parallel import GradReducer, broadcast_state

    dist.init()
    p, r = dist.world_size(), dist.rank()
    results = {}
    with threadpool_limits(1):
        for name, batch in MODELS.items():
            lamina.manual_seed(0)
            model = build(name)
            broadcast_state(model)
            reducer = GradReducer(model.parameters())
            opt = optim.Adam(model.parameters(), lr=1e-3)
            loss_fn = nn.CrossEntropyLoss()
            rng = np.random.default_rng(r)
            shape = (batch, 784) if name == "mlp" else (batch, 1, 28, 28)
            x, y = lamina.from_numpy(rng.normal(size=shape).astype(np.float32)), lamina.from_numpy(
                rng.integers(0, 10, batch))
            compute, communicate, wait = [], [], []
            for step in range(steps + 5):
                t0 = time.perf_counter()
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                t1 = time.perf_counter()
                if p > 1:
                    dist.barrier()  # waiting for the slowest process, apart from the averaging itself
                tw = time.perf_counter()
                reducer.reduce()
                t2 = time.perf_counter()
                opt.step()
                t3 = time.perf_counter()
                if step >= 5:  # after warm-up
                    compute.append((t1 - t0) + (t3 - t2))
                    communicate.append(t2 - tw)
                    wait.append(tw - t1)
            flat = np.zeros(sum(f.size - 8 for f in reducer.flat), dtype=np.float32)
            bare = []
            for _ in range(20):
                dist.barrier()
                t0 = time.perf_counter()
                comm.all_reduce_array(flat)
                bare.append(time.perf_counter() - t0)
            tiny = np.zeros(1, dtype=np.float32)
            latency = []
            for _ in range(50):
                dist.barrier()
                t0 = time.perf_counter()
                comm.all_reduce_array(tiny)
                latency.append(time.perf_counter() - t0)
            mine = [statistics.median(compute), statistics.median(communicate), statistics.median(bare),
                    statistics.median(latency), statistics.median(wait)]
            every = comm.all_gather_array(np.array(mine))
            results[name] = {"batch": batch, "params": int(flat.size), "bytes": int(flat.nbytes),
                             "compute": float(every[:, 0].max()), "comm": float(every[:, 1].max()),
                             "wait": float(every[:, 4].max()),
                             "bare_allreduce": float(every[:, 2].max()), "latency": float(every[:, 3].max())}
    if r == 0:
        print("RESULT " + json.dumps({"procs": p, "models": results}), flush=True)


def launch(procs: int, steps: int) -> dict:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    cmd = [str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec"), "-n", str(procs), sys.executable, "-m",
           "benchmarks.distributed", "--worker", "--steps", str(steps)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")


def report(runs: list) -> str:
    lines = ["| model | processes | batch (per process) | compute ms | waiting ms | averaging ms | step ms | "
             "samples/s | efficiency | bare Allreduce ms (gradients) | Allreduce of 4 bytes µs |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {}
    for run in runs:
        p = run["procs"]
        for name, m in run["models"].items():
            step = m["compute"] + m["wait"] + m["comm"]
            rate = p * m["batch"] / step
            base.setdefault(name, rate)
            lines.append(f"| {name} ({m['params']:,} parameters, {m['bytes'] / 2**20:.2f} MiB) | {p} | {m['batch']} | "
                         f"{m['compute'] * 1e3:.2f} | {m['wait'] * 1e3:.2f} | {m['comm'] * 1e3:.2f} | "
                         f"{step * 1e3:.2f} | {rate:.0f} | "
                         f"{rate / (p * base[name]):.2f} | {m['bare_allreduce'] * 1e3:.3f} | "
                         f"{m['latency'] * 1e6:.1f} |")
    return "\n".join(lines)


NETWORKS = {"10 Gbit/s": (10e9 / 8, 25e-6), "100 Gbit/s": (100e9 / 8, 3e-6)}  # bytes/s, latency per message


def ring_allreduce(p: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """Seconds for a ring all-reduce: 2(p−1) steps (reduce-scatter, then all-gather), each moving nbytes/p."""
    return 2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * latency


def halving_doubling_allreduce(p: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """Seconds for Rabenseifner's all-reduce (MPICH's choice for long messages): the same bytes, 2·log2(p) steps."""
    return 2 * (p - 1) / p * nbytes / bandwidth + 2 * np.log2(p) * latency


def predictions(runs: list) -> str:
    """Predicted scaling efficiency compute / (compute + all-reduce) at 8, 64 and 512 processes, from the
    measured compute of one process and the gradient bytes (no overlap of the two)."""
    lines = ["| model | network | processes | ring all-reduce ms | efficiency (ring) | halving-doubling ms | "
             "efficiency (halving-doubling) |", "|---|---|---|---|---|---|---|"]
    single = next(run for run in runs if run["procs"] == 1)
    for name, m in single["models"].items():
        for net, (bandwidth, latency) in NETWORKS.items():
            for p in (8, 64, 512):
                ring = ring_allreduce(p, m["bytes"], bandwidth, latency)
                hd = halving_doubling_allreduce(p, m["bytes"], bandwidth, latency)
                c = m["compute"]
                lines.append(f"| {name} | {net} | {p} | {ring * 1e3:.2f} | {c / (c + ring):.2f} | {hd * 1e3:.2f} | "
                             f"{c / (c + hd):.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", default="1,2,4")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", help="also write the table (with the load average) to this markdown file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps)
        return
    runs = [launch(int(p), args.steps) for p in args.procs.split(",")]
    text = (f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after the runs; medians over {args.steps} steps, "
            f"the slowest process's\n\n" + report(runs))
    if any(run["procs"] == 1 for run in runs):
        text += ("\n\nPredicted from one process's compute time, per network (bandwidth; latency per message: "
                 + ", ".join(f"{k}: {v[1] * 1e6:g} µs" for k, v in NETWORKS.items()) + ")\n\n" + predictions(runs))
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
