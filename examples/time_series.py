"""Forecasting a noisy sum of sines: a GRU reading the window one step at a time against an MLP reading it
all at once, both predicting the next value. Prints both validation errors beside two baselines: repeating
the last value, and the noise itself (the error of a perfect forecaster).

    python examples/time_series.py [--epochs 10]
"""

import argparse
import os
import time

from threadpoolctl import threadpool_limits  # installed with scikit-learn

import lamina
from lamina import datasets, nn, optim

WINDOW, NOISE = 40, 0.05


class GRUForecaster(nn.Module):
    """GRU over the window (batch, time, 1), then a Linear layer on its last hidden state."""

    def __init__(self, hidden_size: int = 32):
        super().__init__()
        self.gru = nn.GRU(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        _, h_n = self.gru(x)
        return self.head(h_n[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    with threadpool_limits(1, user_api="blas"):  # small matrices: see examples/char_language_model.py
        return run(args)


def run(args) -> dict:
    X, y = datasets.sines(n_samples=1200, window=WINDOW, horizon=1, noise=NOISE, seed=0)
    X_train, y_train, X_val, y_val = X[:1000], y[:1000], X[1000:], y[1000:]  # every sample is its own series
    print(f"{len(X_train)} training and {len(X_val)} validation windows of {WINDOW} steps, noise std {NOISE}")

    builders = {
        "GRU": lambda: GRUForecaster(hidden_size=32),
        "MLP": lambda: nn.Sequential(nn.Flatten(), nn.Linear(WINDOW, 64), nn.ReLU(), nn.Linear(64, 1)),
    }
    results = {"last_value_mse": float(((X_val[:, -1] - y_val) ** 2).mean()), "noise_mse": NOISE**2}
    for name, build in builders.items():
        lamina.manual_seed(0)
        model = build()
        start = time.perf_counter()
        history = lamina.fit(model, (X_train, y_train), val=(X_val, y_val), loss=nn.MSELoss(),
                             optimizer=optim.Adam(model.parameters(), lr=5e-3), epochs=args.epochs, batch_size=32,
                             progress=False)
        params = sum(p.numel() for p in model.parameters())
        results[name] = {"val_mse": history["val_loss"][-1], "seconds": time.perf_counter() - start}
        print(f"{name}: {params:,} parameters, {args.epochs} epochs in {results[name]['seconds']:.1f} s; "
              f"validation MSE {results[name]['val_mse']:.5f}")
    print(f"repeat the last value: MSE {results['last_value_mse']:.5f}; a perfect forecaster: "
          f"{results['noise_mse']:.5f} (the variance of the noise on the value it predicts)")
    return results


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
