"""House prices with a ReLU: a price cannot go below zero, so a straight line fits badly where a single
ReLU neuron, price = max(0, w·size + b), fits well and recovers the slope and the size where prices start.

    python examples/house_prices.py [--epochs 150] [--plot DIR]
"""

import argparse
import os

import lamina
from lamina import nn, optim
from lamina.datasets.synthetic import HOUSE_SLOPE, HOUSE_THRESHOLD


def train(model, X, y, epochs):
    history = lamina.fit(model, (X, y), loss=nn.MSELoss(), optimizer=optim.Adam(model.parameters(), lr=0.05),
                         epochs=epochs, batch_size=32, progress=False)
    return history


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--plot", metavar="DIR", help="save the loss curves as a PNG here")
    args = parser.parse_args(argv)

    X, y = lamina.datasets.house_prices(n=200, seed=0)  # size (1000 sq ft) -> price ($100k), zero below ~0.8
    lamina.manual_seed(0)
    line = nn.Linear(1, 1)
    neuron = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    with lamina.no_grad():  # start the ReLU "alive" (positive on the data): a dead ReLU gets no gradient
        neuron[0].weight.fill_(0.5)
        neuron[0].bias.fill_(0.0)
    histories = {"straight line": train(line, X, y, args.epochs), "ReLU neuron": train(neuron, X, y, args.epochs)}

    w, b = neuron[0].weight.item(), neuron[0].bias.item()
    results = {
        "line_mse": lamina.evaluate(line, (X, y), loss=nn.MSELoss())["loss"],
        "relu_mse": lamina.evaluate(neuron, (X, y), loss=nn.MSELoss())["loss"],
        "slope": w, "threshold": -b / w,
        "line_price_at_0.3": lamina.predict(line, [[0.3]]).item(),
    }
    print(f"straight line: MSE {results['line_mse']:.4f}; predicts {results['line_price_at_0.3']:.2f} "
          "for a 300 sq ft house (a negative price)")
    print(f"ReLU neuron:   MSE {results['relu_mse']:.4f}")
    print(f"learned: price = max(0, {w:.3f}·size {b:+.3f}) -> slope {w:.2f} (true {HOUSE_SLOPE}), "
          f"prices start at size {-b / w:.2f} (true {HOUSE_THRESHOLD})")
    if args.plot:
        from lamina.plot import plot_lr_comparison

        print("wrote", plot_lr_comparison(histories, f"{args.plot}/house_prices_loss.png", title="MSE per epoch"))
    return results


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
