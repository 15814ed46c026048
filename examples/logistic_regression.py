"""Logistic regression: one sigmoid neuron trained with binary cross-entropy on the breast-cancer data.

For a = sigmoid(z) and L = BCE(a, y) = −y·log a − (1 − y)·log(1 − a), the chain rule gives
dL/dz = dL/da · da/dz = (a − y)/(a(1 − a)) · a(1 − a) = a − y: the error itself. Autograd confirms it.

    python examples/logistic_regression.py [--epochs 50]
"""

import argparse
import os

import numpy as np

import lamina
from lamina import nn, optim


def check_gradient(model, X, y) -> float:
    """Largest |dL/dz − (a − y)| over the training samples, dL/dz from autograd."""
    z = model[0](X).detach().requires_grad_()  # the neuron's pre-activation, as a leaf so it gets a .grad
    a = nn.Sigmoid()(z)
    nn.BCELoss(reduction="sum")(a, y).backward()  # summed, so each sample's dL/dz is its own
    return float(np.abs(z.grad.numpy() - (a.detach().numpy() - y.numpy())).max())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args(argv)

    data = lamina.datasets.load("breast_cancer", seed=0)  # 30 standardized features; 1 = benign
    y_train = data.y_train.float().reshape(-1, 1)  # BCE wants float targets shaped like the output
    y_test = data.y_test.float().reshape(-1, 1)
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(data.n_features, 1), nn.Sigmoid())
    lamina.fit(model, (data.X_train, y_train), loss=nn.BCELoss(), optimizer=optim.SGD(model.parameters(), lr=0.1),
               epochs=args.epochs, batch_size=32, progress=False)

    gap = check_gradient(model, data.X_train, y_train)
    test = lamina.evaluate(model, (data.X_test, y_test), loss=nn.BCELoss(), metrics=["accuracy"])
    print(f"dL/dz from autograd vs a − y: largest difference {gap:.2e}")
    print(f"test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f}")
    return {"gradient_gap": gap, "test_accuracy": test["accuracy"]}


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
