"""Run by the tests in this folder under `mpiexec -n P python mpi_worker.py SCENARIO OUT` (or without mpiexec:
a job of one). Each scenario writes what the test checks into OUT as rank<r>.npz / rank<r>.json."""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import lamina
from lamina import distributed as dist
from lamina import nn, optim
from lamina.training import fit
from lamina.training.callbacks import Callback, CSVLogger

STEPS, GLOBAL_BATCH = 3, 24


def data(n=GLOBAL_BATCH * STEPS, d=6, classes=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, classes, n)


def net(dropout=False, batchnorm=False, hidden=16):
    layers = [nn.Linear(6, hidden)] + ([nn.BatchNorm1d(hidden)] if batchnorm else []) + [nn.ReLU()]
    layers += ([nn.Dropout(0.3)] if dropout else []) + [nn.Linear(hidden, 3)]
    return nn.Sequential(*layers)


VARIANTS = {"sgd": ("sgd", False, False), "adam": ("adam", False, False), "adam_dropout": ("adam", True, False),
            "sgd_syncbn": ("sgd", False, True), "sgd_no_sync": ("sgd", False, False)}


def make_opt(kind, params):
    return optim.SGD(params, lr=0.1, momentum=0.9) if kind == "sgd" else optim.Adam(params, lr=0.01)


def ddp(out: Path):
    """Each variant: DistributedDataParallel for STEPS steps; rank r takes its slice of each global batch and
    seeds its dropout with 100 + r."""
    r, p = dist.rank(), dist.world_size()
    X, y = data()
    result = {}
    for name, (kind, dropout, bn) in VARIANTS.items():
        lamina.manual_seed(0 if r == 0 else 7)  # rank 0's initial weights must win
        model = net(dropout, bn)
        if bn:
            model = dist.SyncBatchNorm.convert_sync_batchnorm(model)
        model = dist.DistributedDataParallel(model)
        opt = make_opt(kind, model.parameters())
        lamina.manual_seed(100 + r)
        loss_fn = nn.CrossEntropyLoss()
        for k in range(STEPS):
            rows = np.array_split(np.arange(k * GLOBAL_BATCH, (k + 1) * GLOBAL_BATCH), p)[r]
            opt.zero_grad()
            if name == "sgd_no_sync":  # two micro-batches: the first accumulates locally, the second averages
                first, second = np.array_split(rows, 2)
                with model.no_sync():
                    (loss_fn(model(lamina.from_numpy(X[first])), lamina.from_numpy(y[first])) / 2).backward()
                (loss_fn(model(lamina.from_numpy(X[second])), lamina.from_numpy(y[second])) / 2).backward()
            else:
                loss_fn(model(lamina.from_numpy(X[rows])), lamina.from_numpy(y[rows])).backward()
            opt.step()
        for key, t in model.module.state_dict().items():
            result[f"{name}/{key}"] = np.array(t.array)
    np.savez(out / f"rank{r}.npz", **result)


def collectives(out: Path):
    """Each collective on tensors of rank-dependent values; rank r writes what it got."""
    r, p = dist.rank(), dist.world_size()
    got = {}
    for op in ("SUM", "AVG", "PRODUCT", "MIN", "MAX"):
        t = lamina.tensor([[r + 1.0, -r], [2.0 * r, 0.5]])
        dist.all_reduce(t, getattr(dist.ReduceOp, op))
        got[op] = t.array
    weight = nn.Linear(3, 2).weight  # Linear keeps its weight column-major
    weight.array[...] = r
    dist.all_reduce(weight)
    got["fortran"] = weight.array
    t = lamina.tensor([r, r * 10], dtype=lamina.int64)
    dist.broadcast(t, src=p - 1)
    got["broadcast"] = t.array
    parts = [lamina.zeros(2) for _ in range(p)]
    dist.all_gather(parts, lamina.tensor([r, -r], dtype=lamina.float32))
    got["all_gather"] = np.stack([x.array for x in parts])
    objects = [f"from {r}", {"rank": r}]
    dist.broadcast_object_list(objects, src=1)
    got["objects"] = np.array([json.dumps(objects)])
    np.savez(out / f"rank{r}.npz", **got)


class PartlyUsed(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.extra = nn.Linear(6, 3), nn.Linear(6, 3)

    def forward(self, x):
        return self.used(x)


def unused(out: Path):
    """find_unused_parameters=True trains a model with a parameter that takes no part; without it the next
    forward raises, naming the parameters left without a gradient."""
    X, y = data()
    for find in (True, False):
        lamina.manual_seed(0)
        model = dist.DistributedDataParallel(PartlyUsed(), find_unused_parameters=find)
        for k in range(2):
            rows = np.array_split(np.arange(k * GLOBAL_BATCH, (k + 1) * GLOBAL_BATCH), dist.world_size())[dist.rank()]
            nn.CrossEntropyLoss()(model(lamina.from_numpy(X[rows])), lamina.from_numpy(y[rows])).backward()
        if find:
            (out / f"rank{dist.rank()}.txt").write_text(repr(model.module.used.weight.grad.array.tolist()))


class Fail(Callback):
    """Kill (SIGKILL) or raise on rank 1 at the second step of the second epoch."""

    def __init__(self, how):
        self.how = how

    def on_batch_end(self, step, logs):
        if dist.rank() == 1 and self.state.epoch == 1 and step == 1:
            if self.how == "kill":
                os.kill(os.getpid(), 9)
            raise RuntimeError("rank 1 fails on purpose")


def fitting(out: Path, epochs: int, resume: bool, fail=None):
    """fit(distributed=True) on 96 samples, global batch 24, Adam, with a checkpoint in OUT."""
    lamina.manual_seed(0)
    X, y = data(96, seed=2)
    ckpt = out / "run" / "checkpoint.ckpt"
    model = net(hidden=32)
    history = fit(model, (X, y), loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=0.01),
                  epochs=epochs, batch_size=24, metrics=["accuracy"], progress=False, distributed=True,
                  checkpoint=ckpt, resume=ckpt if resume else None,
                  callbacks=[CSVLogger(out / f"log-written-by-{dist.rank()}.csv")] + ([Fail(fail)] if fail else []),
                  health=False)
    r = dist.rank()
    np.savez(out / f"rank{r}.npz", **{k: np.array(t.array) for k, t in model.state_dict().items()})
    (out / f"rank{r}.json").write_text(json.dumps(history.to_dict()))


def main():
    scenario, out = sys.argv[1], Path(sys.argv[2])
    with threadpool_limits(1):
        if scenario == "timeout":
            dist.init(timeout=2)
            if dist.rank() == 1:
                time.sleep(60)
            dist.barrier()
            return
        dist.init()
        if scenario == "ddp":
            ddp(out)
        elif scenario == "collectives":
            collectives(out)
        elif scenario == "unused":
            unused(out)
        elif scenario == "mismatch":
            dist.DistributedDataParallel(net(hidden=16 + dist.rank()))
        elif scenario.startswith("fit"):  # fit-EPOCHS, fit-EPOCHS-resume, fit-2-kill, fit-2-raise
            parts = scenario.split("-")
            fitting(out, int(parts[1]), "resume" in parts, next((f for f in ("kill", "raise") if f in parts), None))


if __name__ == "__main__":
    main()
