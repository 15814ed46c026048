"""Dropout and batch normalization, each compared with the same network without it.

1. Dropout against overfitting: a wide MLP on noisy spirals (half the points held out). Without dropout it
   fits every training point; its test loss bottoms out higher than with dropout, then climbs as the model
   grows overconfident on the test points. (The final test losses alone are a coin toss between seeds.)
2. BatchNorm for trainability: a deep (6 hidden layers) ReLU MLP with plain SGD on the digits. Without
   normalization the signal fades through the layers and the loss barely moves in 5 epochs; with BatchNorm1d
   after each Linear layer it trains at once.

    python examples/dropout_batchnorm.py [--epochs 300] [--deep-epochs 5]
"""

import argparse
import os

import lamina
from lamina import nn, optim


def mlp(n_in, hidden, n_out, dropout=0.0, batchnorm=False):
    layers, width = [], n_in
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batchnorm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def dropout_comparison(epochs: int) -> dict:
    data = lamina.datasets.load("spirals", seed=0, test_size=0.5, noise=0.3)
    results = {}
    for name, p in (("no dropout", 0.0), ("dropout 0.3", 0.3)):
        lamina.manual_seed(0)
        model = mlp(2, (256, 256), 3, dropout=p)
        history = lamina.fit(model, (data.X_train, data.y_train), val=(data.X_test, data.y_test),
                             loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=3e-3),
                             epochs=epochs, metrics=["accuracy"], progress=False)
        train = lamina.evaluate(model, (data.X_train, data.y_train), metrics=["accuracy"])
        results[name] = {"train_accuracy": train["accuracy"], "test_accuracy": history["val_accuracy"][-1],
                         "test_loss": history["val_loss"][-1], "best_test_loss": min(history["val_loss"])}
    return results


def batchnorm_comparison(epochs: int) -> dict:
    data = lamina.datasets.load("digits", seed=0)
    results = {}
    for name, bn in (("no batchnorm", False), ("batchnorm", True)):
        lamina.manual_seed(0)
        model = mlp(64, (64,) * 6, 10, batchnorm=bn)
        history = lamina.fit(model, (data.X_train, data.y_train), val=(data.X_test, data.y_test),
                             loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), lr=0.01),
                             epochs=epochs, metrics=["accuracy"], progress=False)
        results[name] = {"train_loss": history["loss"][-1], "test_accuracy": history["val_accuracy"][-1]}
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="epochs for the dropout comparison")
    parser.add_argument("--deep-epochs", type=int, default=5, help="epochs for the batchnorm comparison")
    args = parser.parse_args(argv)

    dropout = dropout_comparison(args.epochs)
    print("1. dropout on noisy spirals (256-256 ReLU MLP, Adam):")
    for name, r in dropout.items():
        print(f"   {name:12s} train accuracy {r['train_accuracy']:.3f}  test accuracy {r['test_accuracy']:.3f}  "
              f"test loss {r['test_loss']:.3f} (best {r['best_test_loss']:.3f})")
    batchnorm = batchnorm_comparison(args.deep_epochs)
    print(f"2. batchnorm in a 6-hidden-layer ReLU MLP on digits (SGD lr 0.01, {args.deep_epochs} epochs):")
    for name, r in batchnorm.items():
        print(f"   {name:12s} train loss {r['train_loss']:.3f}  test accuracy {r['test_accuracy']:.3f}")
    return {"dropout": dropout, "batchnorm": batchnorm}


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
