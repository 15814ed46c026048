"""A convolutional network against a multilayer perceptron of about the same size, on lamina's generated shapes.

Each 28×28 image shows a circle, square, triangle, cross, ring or star at a random place, size and rotation, on a
noisy background. The MLP has to learn every shape at every position from separate weights; the CNN slides the
same small filters over the whole image and pools away small shifts, so it learns far more from the same
examples. The first layer's filters and the feature maps they make of a few test images are saved as PNGs.

    python examples/image_recognition.py [--n 2000] [--epochs 5] [--plot DIR]
"""

import argparse
import os
import time

import lamina
from lamina import metrics, nn, optim


def lenet(n_classes: int) -> nn.Module:
    """LeNet-5's pattern for 1×28×28 inputs: two convolution blocks, then three fully connected layers."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 6 × 14 × 14
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 16 × 7 × 7
        nn.Flatten(), nn.Linear(16 * 7 * 7, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_classes),
    )


def mlp(n_classes: int) -> nn.Module:
    """One hidden layer of 128 ReLUs: about as many weights as the CNN (101k against 107k)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 128), nn.ReLU(), nn.Linear(128, n_classes))


def train(model, data, epochs: int, lr: float) -> dict:
    start = time.perf_counter()
    history = lamina.fit(model, (data.X_train, data.y_train), loss=nn.CrossEntropyLoss(),
                         optimizer=optim.Adam(model.parameters(), lr=lr), epochs=epochs, batch_size=32,
                         progress=False)
    seconds = time.perf_counter() - start
    accuracy = metrics.accuracy(data.y_test, lamina.predict(model, data.X_test).argmax(1))
    return {"test_accuracy": accuracy, "train_loss": history["loss"][-1], "seconds": seconds,
            "parameters": sum(p.numel() for p in model.parameters())}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="images to generate (80%% train, 20%% test)")
    parser.add_argument("--epochs", type=int, default=5, help="CNN epochs (the MLP trains 4x as many: it is cheaper)")
    parser.add_argument("--plot", metavar="DIR", default="image_recognition",
                        help="folder for the PNGs (default ./image_recognition)")
    args = parser.parse_args(argv)

    data = lamina.datasets.load_images("shapes", n=args.n, seed=0, normalize=True)  # (N, 1, 28, 28)
    classes = data.target_names
    # These convolutions are small: one BLAS thread does them as fast as two, and far faster when other programs
    # share the cores (threadpoolctl comes with scikit-learn).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        lamina.manual_seed(0)
        cnn = lenet(len(classes))
        results = {"cnn": train(cnn, data, args.epochs, lr=3e-3)}
        lamina.manual_seed(0)
        results["mlp"] = train(mlp(len(classes)), data, 4 * args.epochs, lr=1e-3)
    print(f"shapes: {len(data.X_train)} train / {len(data.X_test)} test images of {', '.join(classes)}")
    for name, r in results.items():
        print(f"{name.upper()}: {r['parameters']:,} parameters, {r['seconds']:.1f} s, "
              f"test accuracy {r['test_accuracy']:.3f}")

    from lamina import plot  # matplotlib loads only here

    test = data.X_test[:4]
    labels = [f"true: {classes[k]}" for k in data.y_test[:4].tolist()]
    for path in (plot.plot_images(data.X_test[:16], f"{args.plot}/shapes.png", ncols=8,
                                  labels=[classes[k] for k in data.y_test[:16].tolist()]),
                 plot.plot_filters(cnn, f"{args.plot}/filters.png", title="the CNN's first-layer filters"),
                 plot.plot_feature_maps(cnn, test, f"{args.plot}/feature_maps.png", labels=labels)):
        print("wrote", path)
    return results


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
