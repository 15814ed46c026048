"""lamina's benchmark suite: ``python -m benchmarks`` compares lamina with PyTorch eager, scikit-learn, the
NumPy matmul floor and (when installed) JAX, in interleaved rounds, and writes benchmarks/RESULTS.md.

Modules: harness (settings, threads, interleaved timing, ratios), data (shared inputs and initial weights),
nets (the same network on every side), one module per workload family (mlp: a, b, d; xor: c; digits: e;
floor: f; memory: g; spots: h; sequences: i), report (Markdown and JSON), profile (cProfile of lamina's step).
"""
