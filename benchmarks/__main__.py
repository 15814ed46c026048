"""``python -m benchmarks``: run every comparison in one session and write benchmarks/RESULTS.md."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback

from benchmarks.harness import REPO, WORKLOADS, Settings

DEFAULT_OUT = os.path.join(REPO, "benchmarks", "RESULTS.md")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="lamina against PyTorch eager, scikit-learn, the NumPy matmul floor and (if installed) JAX. "
                    "Workloads: a MLP batch 128, b batch 32 and 1024, c XOR overhead, d inference, e digits time "
                    "to accuracy, f NumPy floor, g memory, h the slow spots of PyTorch scripts (GELU, pow, W[idx]), "
                    "i sequence models (LSTM, bidirectional GRU, Transformer encoder training; character Transformer "
                    "generation), j convolutional networks (LeNet-5, a 3x3 convolution, a 1-D convnet, inference, "
                    "memory).")
    parser.add_argument("--quick", action="store_true", help="the tiny setting: checks the suite runs (no timings)")
    parser.add_argument("--repeats", type=int, help="timed rounds per comparison (default 10; 1 with --quick)")
    parser.add_argument("--only", default=WORKLOADS, help="workloads to run, e.g. 'a,c' (default: all)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the Markdown report (a .json twin is written beside it)")
    parser.add_argument("--threads", type=int, help="threads for NumPy's BLAS and torch (default: NumPy's own)")
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX peer even when JAX is installed")
    args = parser.parse_args(argv)
    args.only = "".join(ch for ch in args.only.lower() if ch.isalnum())
    unknown = sorted(set(args.only) - set(WORKLOADS))
    if unknown or not args.only:
        parser.error(f"--only takes letters from {', '.join(WORKLOADS)}; got {args.only or 'nothing'!r}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    if args.threads == 1:  # XLA's CPU thread pool is only configurable before jax is imported
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

    from benchmarks import cnn, digits, floor, harness, memory, mlp, report, sequences, spots, xor

    settings = Settings.tiny(args.repeats or 1) if args.quick else Settings(repeats=args.repeats or 10)
    threads = harness.set_threads(args.threads)
    env = harness.environment()
    env["jax_threads"] = ("1 (XLA_FLAGS)" if args.threads == 1 else f"XLA's default pool ({os.cpu_count()} CPUs)"
                          ) if env["jax"] else "—"
    peers, skipped = ["torch"], []
    if env["jax"] and not args.no_jax:
        peers.append("jax")
    else:
        reason = "JAX not installed" if not env["jax"] else "JAX skipped (--no-jax)"
        skipped += [(k, f"{reason}: no JAX peer.") for k in "abcd" if k in args.only]

    comparisons, failed = [], False
    for name, letters, module in [("MLP training and inference", "abd", mlp), ("XOR", "c", xor),
                                  ("digits", "e", digits), ("NumPy floor", "f", floor), ("memory", "g", memory),
                                  ("slow spots", "h", spots), ("sequence models", "i", sequences),
                                  ("convolutional networks", "j", cnn)]:
        if not set(letters) & set(args.only):
            continue
        start = time.perf_counter()
        kwargs = {"threads": threads} if module in (memory, cnn) else {}
        try:
            found = module.run(settings, peers, args.only, **kwargs)
        except Exception as err:  # noqa: BLE001 - report it, run the other workloads, then exit non-zero
            failed = True
            traceback.print_exc()
            skipped += [(k, f"FAILED: {type(err).__name__}: {err}") for k in letters if k in args.only]
            continue
        print(f"[benchmarks] {name}: {len(found)} comparison(s) in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
        comparisons += found
    env["load_average_end"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    command = " ".join(["python -m benchmarks", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    report.write(args.out, command, settings, env, comparisons, skipped)
    print(f"[benchmarks] wrote {args.out}", file=sys.stderr)
    if failed:
        sys.exit(1)
    return args.out


if __name__ == "__main__":
    main()
