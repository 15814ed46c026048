"""fit's results pinned bit for bit: the constants below were recorded with the single-function ``fit`` of
lamina/training.py, before the loop was split into ``train_step``, an epoch loop and callbacks.

Each run draws from lamina's global RNG (initialisation, shuffling, dropout) and uses the optional parts of
``fit`` that became callbacks (a scheduler per epoch or per batch, gradient clipping, the checkpoint, a
validation set, metrics, GradientMonitor). A change to the order of anything (an RNG draw, the clipping
against the optimizer step, the scheduler step) changes the weights' hash. The hashes hold for one machine's
floating point (NumPy/OpenBLAS and the numba kernels); the history values are exact floats.
"""

import hashlib
import json

import numpy as np
import pytest
from safetensors import safe_open

import lamina
from lamina import nn, optim
from lamina.callbacks import EarlyStopping, GradientMonitor

_TIMING = ("epoch_time", "samples_per_sec")


def blobs(n=60, seed=0, classes=3, features=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.normal(size=(n, features)) * 0.8 + np.eye(classes, features)[y] * 2
    return X, y


def mlp(out=3):
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, out))


def digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def fingerprint(model, history, checkpoint=None) -> dict:
    state = model.state_dict()
    result = {
        "weights": digest(state[k].numpy() for k in sorted(state)),
        "history": {k: v for k, v in history.history.items() if k not in _TIMING},
        "gradient_norms": dict(history.gradient_norms),
    }
    if checkpoint is not None:  # the file's layout: tensor names and every metadata section but the history
        with safe_open(checkpoint, framework="numpy") as f:
            names = sorted(f.keys())
            meta = f.metadata()
            tensors = digest(f.get_tensor(k) for k in names)
        saved = json.loads(meta["history"])
        # lamina.crc32 (checksums added after the pin) covers the history's timings, which vary run to run
        sections = {k: v for k, v in meta.items() if k not in ("history", "lamina.crc32")}
        result["checkpoint"] = {
            "tensors": names, "tensor_digest": tensors,
            "metadata": hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()[:32],
            "history_keys": sorted(saved),
            "history_is_the_runs": {k: v for k, v in saved["history"].items() if k not in _TIMING} == result["history"],
        }
    return result


def sgd_step_lr_clipped():
    """SGD with momentum, StepLR per epoch, clipping, dropout, shuffling, val data, accuracy, GradientMonitor."""
    X, y = blobs()
    lamina.manual_seed(11)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    history = lamina.fit(model, (X[:44], y[:44]), val=(X[44:], y[44:]), loss=nn.CrossEntropyLoss(), optimizer=opt,
                         scheduler=optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), epochs=5, batch_size=8,
                         metrics=["accuracy"], clip_grad_norm=0.5, callbacks=[GradientMonitor()], progress=False)
    return model, history


def adam_one_cycle_per_batch():
    """Adam with OneCycleLR stepped after every batch (chosen by fit), clipping, dropout, shuffling."""
    X, y = blobs(seed=1)
    lamina.manual_seed(5)
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=4, steps_per_epoch=6)
    history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched, epochs=4,
                         batch_size=10, clip_grad_norm=0.3, metrics=["accuracy", "f1"], progress=False)
    return model, history


def bce_plateau_checkpoint(tmp_path):
    """BCEWithLogits on int 0/1 labels (made float32), ReduceLROnPlateau on val_loss, EarlyStopping, a checkpoint."""
    X, y = blobs(seed=2, classes=2)
    lamina.manual_seed(7)
    model = mlp(out=1)
    opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=0.2)
    history = lamina.fit(model, (X[:40], y[:40, None]), val=(X[40:], y[40:, None]), loss=nn.BCEWithLogitsLoss(),
                         optimizer=opt, scheduler=sched, epochs=5, batch_size=8, checkpoint=tmp_path,
                         callbacks=[EarlyStopping(patience=9)], progress=False)
    return model, history, tmp_path / "checkpoint.ckpt"


RUNS = {"sgd_step_lr_clipped": sgd_step_lr_clipped, "adam_one_cycle_per_batch": adam_one_cycle_per_batch}

# recorded with lamina/training.py as of commit eaf0509 (the single-function fit)
PINNED = {
    "sgd_step_lr_clipped": {
        "weights": "33dcf8d9faa805a3e5e97b9de57ec4b3",
        "history": {
            "loss": [
                0.8773798400705511, 0.45419080555438995, 0.29185462709177623, 0.28728130317970435,
                0.18034595098685136,
            ],
            "accuracy": [
                0.6136363636363636, 0.7954545454545454, 0.9318181818181818, 0.8863636363636364, 0.8863636363636364,
            ],
            "val_loss": [
                0.486232191324234, 0.6353749632835388, 0.7942422032356262, 0.6514641046524048, 0.34949278831481934,
            ],
            "val_accuracy": [0.8125, 0.8125, 0.8125, 0.8125, 0.875],
            "lr": [0.2, 0.2, 0.1, 0.1, 0.05],
        },
        "gradient_norms": {
            "0.weight": [
                0.24975432938363587, 0.33071584925694336, 0.301089299472906, 0.3137521322149421, 0.2838466871295355,
            ],
            "0.bias": [
                0.09498760842314298, 0.17182164222445637, 0.1992703140712011, 0.13551141852674287,
                0.1874534051088489,
            ],
            "3.weight": [
                0.3929345144013088, 0.2766074609998361, 0.18810845453039013, 0.170406316933034, 0.13169477861733556,
            ],
            "3.bias": [
                0.13173025424078202, 0.12587119081316453, 0.08621607235604285, 0.06245557500826992,
                0.07678687320800731,
            ],
        },
    },
    "adam_one_cycle_per_batch": {
        "weights": "ae8d3040ad9dc41d2f9e53147a22b841",
        "history": {
            "loss": [
                1.0839856763680775, 0.5368251452843348, 0.24759634335835776, 0.17278763527671495,
            ],
            "accuracy": [
                0.4666666666666667, 0.7666666666666667, 0.9333333333333333, 0.9333333333333333,
            ],
            "f1": [
                0.3024803387779794, 0.7317529865558177, 0.9238095238095237, 0.9256965944272446,
            ],
            "lr": [
                0.0020000000000000018, 0.04987686376140549, 0.036681768979963725, 0.010154654742681013,
            ],
        },
        "gradient_norms": {},
    },
    "bce_plateau_checkpoint": {
        "weights": "8cb5abc0d9b26ca8e22781ed3bf747eb",
        "history": {
            "loss": [
                0.6478771805763245, 0.41287376880645754, 0.19337092489004135, 0.17712289839982986,
                0.10761890225112439,
            ],
            "val_loss": [
                0.46931806206703186, 0.284211665391922, 0.2760602831840515, 0.24687032401561737,
                0.23322907090187073,
            ],
            "lr": [0.3, 0.3, 0.3, 0.15, 0.075],
        },
        "gradient_norms": {},
        "checkpoint": {
            "tensors": [
                "model/0.bias", "model/0.weight", "model/3.bias", "model/3.weight",
                "optimizer/state/0/momentum_buffer", "optimizer/state/1/momentum_buffer",
                "optimizer/state/2/momentum_buffer", "optimizer/state/3/momentum_buffer",
            ],
            "tensor_digest": "f28401c0d577b7adfaf69d5e0056216f",
            "metadata": "924b517b224b3ad8378c221fd5b9aa76",
            "history_keys": ["epoch", "gradient_norms", "history", "interrupted"],
            "history_is_the_runs": True,
        },
    },
}


@pytest.mark.parametrize("name", RUNS)
def test_fit_reproduces_the_pinned_run(name):
    assert fingerprint(*RUNS[name]()) == PINNED[name]


def test_fit_reproduces_the_pinned_checkpoint(tmp_path):
    assert fingerprint(*bce_plateau_checkpoint(tmp_path)) == PINNED["bce_plateau_checkpoint"]
