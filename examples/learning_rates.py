"""The learning rate: too small barely moves, a good one converges, too large diverges. Same model, same
initial weights, same batches; only SGD's learning rate differs.

    python examples/learning_rates.py [--epochs 10] [--plot DIR]
"""

import argparse
import os

import numpy as np

import lamina
from lamina import nn, optim
from lamina.callbacks import Callback
from lamina.training import TrainingError

RATES = {"too small": 0.001, "good": 0.1, "too large": 10.0}


class BatchLosses(Callback):
    """Keeps every batch's loss, so even a run that diverges in its first epoch leaves a curve."""

    def __init__(self):
        self.losses = []

    def on_batch_end(self, step, logs):
        self.losses.append(logs["loss"])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--plot", metavar="DIR", help="save the three loss curves as a PNG here")
    args = parser.parse_args(argv)

    data = lamina.datasets.load("digits", seed=0)
    results, curves = {}, {}
    for name, lr in RATES.items():
        lamina.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        losses = BatchLosses()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows on purpose
                history = lamina.fit(model, (data.X_train, data.y_train), loss=nn.CrossEntropyLoss(),
                                     optimizer=optim.SGD(model.parameters(), lr=lr), epochs=args.epochs,
                                     callbacks=[losses], progress=False)
            test = lamina.evaluate(model, (data.X_test, data.y_test), metrics=["accuracy"])["accuracy"]
            results[name] = {"lr": lr, "first_loss": history["loss"][0], "final_loss": history["loss"][-1],
                             "test_accuracy": test, "diverged": False}
            print(f"{name:10s} lr={lr:<6g} loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f} over "
                  f"{args.epochs} epochs, test accuracy {test:.3f}")
        except TrainingError as err:
            results[name] = {"lr": lr, "diverged": True, "epoch": err.epoch, "step": err.step}
            print(f"{name:10s} lr={lr:<6g} diverged: the loss became NaN/inf at epoch {err.epoch}, step {err.step}")
        curves[f"{name} (lr={lr:g})"] = {"loss": losses.losses}
    if args.plot:
        from lamina.plot import plot_lr_comparison

        path = plot_lr_comparison(curves, f"{args.plot}/learning_rates.png", xlabel="step")
        print("wrote", path)
    return results


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
