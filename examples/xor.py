"""XOR: no straight line separates the two classes, so a linear model cannot learn it; one hidden layer can.

    python examples/xor.py [--epochs 300] [--plot DIR]
"""

import argparse
import os

import lamina
from lamina import nn, optim


def train(model, X, y, epochs):
    lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=0.05),
               epochs=epochs, batch_size=4, progress=False)
    return lamina.evaluate(model, (X, y), metrics=["accuracy"])["accuracy"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--plot", metavar="DIR", help="save both decision boundaries as PNGs here")
    args = parser.parse_args(argv)

    X, y = lamina.datasets.xor()  # the four points (0,0), (0,1), (1,0), (1,1); labels 0, 1, 1, 0
    lamina.manual_seed(0)
    linear = nn.Linear(2, 2)  # two logits, each a straight-line function of the inputs
    mlp = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))  # a hidden layer bends the boundary
    results = {"linear_accuracy": train(linear, X, y, args.epochs), "mlp_accuracy": train(mlp, X, y, args.epochs)}

    print(f"linear model accuracy: {results['linear_accuracy']:.2f}  (at most 0.75: one line cannot split XOR)")
    print(f"MLP accuracy:          {results['mlp_accuracy']:.2f}")
    print("MLP predictions:", lamina.predict(mlp, X).argmax(1).tolist(), " targets:", y.tolist())
    if args.plot:
        from lamina.plot import plot_decision_boundary

        for name, model in (("linear", linear), ("mlp", mlp)):
            print("wrote", plot_decision_boundary(model, X, y, f"{args.plot}/xor_{name}.png", title=f"XOR: {name}"))
    return results


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
