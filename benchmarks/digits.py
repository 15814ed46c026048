"""Workload e: wall time to reach a test accuracy on sklearn's digits, lamina vs scikit-learn's MLPClassifier.

Both train 64-128-10 (relu), Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), no weight decay, batch 32, a
reshuffle of the training set every epoch, float32 data; each is initialised its own default way from
the round's seed. After every epoch the clock stops and test accuracy is measured (not counted).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from benchmarks import data
from benchmarks.harness import Comparison, Settings, Target

HIDDEN, BATCH, LR = 128, 32, 1e-3


def lamina_run(split: tuple, seed: int, target: float, max_epochs: int) -> dict:
    import lamina
    from lamina import nn, optim

    x_train, y_train, x_test, y_test = split
    lamina.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x_train.shape[1], HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=LR)
    rng = np.random.default_rng(seed)
    test_inputs = lamina.from_numpy(x_test)
    trained, epochs = 0.0, 0
    while epochs < max_epochs:
        epochs += 1
        start = time.perf_counter()
        model.train()
        order = rng.permutation(len(x_train))
        xs, ys = x_train[order], y_train[order]
        for i in range(0, len(xs), BATCH):
            loss = loss_fn(model(lamina.from_numpy(xs[i:i + BATCH])), lamina.from_numpy(ys[i:i + BATCH]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        trained += time.perf_counter() - start
        model.eval()
        with lamina.no_grad():
            accuracy = float(np.mean(model(test_inputs).numpy().argmax(axis=1) == y_test))
        if accuracy >= target:
            break
    return {"seconds": trained, "epochs": epochs, "accuracy": accuracy, "reached": accuracy >= target}


def sklearn_run(split: tuple, seed: int, target: float, max_epochs: int) -> dict:
    from sklearn.neural_network import MLPClassifier

    x_train, y_train, x_test, y_test = split
    model = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam", alpha=0.0,
                          batch_size=BATCH, learning_rate_init=LR, shuffle=True, random_state=seed)
    classes = np.unique(y_train)
    trained, epochs = 0.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while epochs < max_epochs:
            epochs += 1
            start = time.perf_counter()
            model.partial_fit(x_train, y_train, classes=classes)
            trained += time.perf_counter() - start
            accuracy = float(model.score(x_test, y_test))
            if accuracy >= target:
                break
    return {"seconds": trained, "epochs": epochs, "accuracy": accuracy, "reached": accuracy >= target}


def run(settings: Settings, peers: list, only: str = "e") -> list:
    if "e" not in only:
        return []
    split = data.digits_split()
    target, max_epochs = settings.digits_target, settings.digits_max_epochs
    runs = {"lamina": [], "scikit-learn": []}
    lamina_run(split, 0, target, 1)  # warm-up: imports and first-call costs of both
    sklearn_run(split, 0, target, 1)
    for seed in range(settings.repeats):
        runs["lamina"].append(lamina_run(split, seed, target, max_epochs))
        runs["scikit-learn"].append(sklearn_run(split, seed, target, max_epochs))
    both = [i for i in range(settings.repeats) if runs["lamina"][i]["reached"] and runs["scikit-learn"][i]["reached"]]
    epochs = "; ".join(f"{name}: " + ", ".join(str(r["epochs"]) for r in rs) for name, rs in runs.items())
    common = [f"Digits: sklearn's load_digits (1,797 8x8 images), stratified 75/25 split (random_state "
              f"{data.SEED}), StandardScaler fit on the training part; {len(split[0])} training, {len(split[2])} "
              "test samples, float32.",
              "Both: 64-128-10 relu MLP, Adam lr 1e-3 (betas 0.9, 0.999, eps 1e-8), no weight decay (sklearn "
              "alpha=0), batch 32 with the last partial batch kept, the training set reshuffled every epoch. "
              "sklearn steps one epoch per partial_fit call. Each library initialises the weights its own "
              "default way, seeded by the round number (round r: seed r for both).",
              "Time counted: training only; the clock stops after each epoch while test accuracy is measured "
              "(the same for both). One warm-up epoch of each before the rounds.",
              f"Epochs needed per round ({target:.0%} target, at most {max_epochs}): {epochs}."]
    out = []
    if both:
        out.append(Comparison(
            key="e", title=f"digits: training time to {target:.0%} test accuracy", unit="s",
            values={name: [rs[i]["seconds"] for i in both] for name, rs in runs.items()},
            ratio_kind="time speedup", targets={"scikit-learn": Target(">=", 3.0)},
            notes=common + [f"Rounds where both reached the target: {len(both)} of {settings.repeats}. The ratio is "
                            "scikit-learn's time / lamina's (higher is better)."]))
    else:
        common.append(f"Not one round where both reached {target:.0%} within {max_epochs} epochs: no time to "
                      "target is reported.")
    out.append(Comparison(
        key="e_epoch", title="digits: training time per epoch", unit="ms/epoch",
        values={name: [1000 * r["seconds"] / r["epochs"] for r in rs] for name, rs in runs.items()},
        ratio_kind="time speedup", notes=([] if both else common) + [
            "Mean training time of one epoch in each round (context for the time to target: speed per epoch "
            "vs epochs needed). The ratio is scikit-learn's / lamina's."]))
    return out
