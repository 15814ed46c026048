"""The cost of fit's default TrainingHealth callback: interleaved epochs with and without it, in one process.

Two copies of a model (same weights, same data, same optimizer settings) train alternately, one step each
(with health, without, without, with, ...), as ``fit`` runs them (the NaN stop, the callback's hooks, its
work at each epoch's end and start); the figure is the median over windows of many step pairs of the ratio of
the summed step times, for a few workloads. Run: ``python -m benchmarks.health_overhead [--every K]
[--workload NAME]`` (``--aa``: both sides without it, the noise floor; ``--parts``: where its own time goes).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np

import lamina
from lamina import nn, optim
from lamina.cli.models import cnn_layers
from lamina.training.callbacks import CallbackList, fit_callbacks
from lamina.training.data import loader
from lamina.training.health import TrainingHealth
from lamina.training.loop import train_step
from lamina.training.state import History, TrainingState

clock = time.thread_time  # CPU time of this thread: a step preempted by another process does not count


def workloads():
    rng = np.random.default_rng(0)
    digits = lamina.datasets.load("digits")
    Xd, yd = digits.X_train.array.astype(np.float32), digits.y_train.array
    yield ("digits MLP 64-256-10, dropout, Adam, batch 32 (lamina train's default)",
           nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10)), Xd, yd, 32)
    Xm = rng.normal(size=(4096, 784)).astype(np.float32)
    ym = rng.integers(0, 10, 4096)
    yield ("MLP 784-256-128-10, Adam, batch 128 (MNIST-shaped)",
           nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)),
           Xm, ym, 128)
    yield ("CNN on 1x8x8 digits (2 conv, ReLU, pooling), Adam, batch 32",
           nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)),
           Xd.reshape(-1, 1, 8, 8), yd, 32)
    Xx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 16, dtype=np.float32)
    yield ("XOR 2-8-2 tanh, Adam, batch 4 (per-call overhead)",
           nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)), Xx, (Xx[:, 0] != Xx[:, 1]).astype(np.int64), 4)
    shapes = lamina.datasets.load("shapes")  # 1x28x28 images: lamina train --model cnn --data shapes
    Xs, ys = shapes.X_train.array.astype(np.float32).reshape(-1, 1, 28, 28), shapes.y_train.array
    yield ("LeNet-5 on 1x28x28 shapes (conv 6, 16 @5x5, 120, 84), Adam, batch 64 (lamina train --model cnn)",
           nn.Sequential(*cnn_layers((1, 28, 28), (6, 16), 5, (120, 84), int(ys.max()) + 1)), Xs, ys, 64)


class TimedHealth(TrainingHealth):
    """TrainingHealth that adds up the time spent in its own code (its callback hooks and forward hooks)."""

    spent = 0.0
    parts: dict = {}

    def _timed(self, method, *args):
        start = clock()
        try:
            return method(*args)
        finally:
            t = clock() - start
            TimedHealth.spent += t
            key = getattr(method, "__name__", "hook")
            TimedHealth.parts[key] = TimedHealth.parts.get(key, 0.0) + t

    def on_epoch_begin(self, *a):
        return self._timed(super().on_epoch_begin, *a)

    def on_epoch_end(self, *a):
        return self._timed(super().on_epoch_end, *a)

    def on_before_backward(self, *a):
        return self._timed(super().on_before_backward, *a)

    def on_before_optimizer_step(self, *a):
        return self._timed(super().on_before_optimizer_step, *a)

    def on_batch_end(self, *a):
        return self._timed(super().on_batch_end, *a)

    def _flush(self, *a):  # (inside on_epoch_end: counted there too)
        start = clock()
        try:
            return super()._flush(*a)
        finally:
            TimedHealth.parts["_flush"] = TimedHealth.parts.get("_flush", 0.0) + clock() - start

    def _hook(self, name, kind):
        hook = super()._hook(name, kind)
        return lambda *a: self._timed(hook, *a)


class Arm:
    """One side of the comparison: a model training as ``run_epoch`` does, one step per call."""

    def __init__(self, model, X, y, batch_size, health):
        self.loss = nn.CrossEntropyLoss()
        self.model, self.opt = model, optim.Adam(model.parameters(), lr=1e-3)
        self.train = loader((X, y), batch_size, True, self.loss, "train")
        user = [health] if health is not None else []
        self.state = TrainingState(model, self.opt, None, History(), 10**6, None, loader=self.train, callbacks=user)
        self.callbacks = CallbackList(fit_callbacks(user, progress=False, scheduler=None, scheduler_interval=None,
                                                    clip_grad_norm=None, checkpoint=None))
        self.callbacks.set_state(self.state)
        self.callbacks.on_train_begin({"initial_epoch": 0})
        self.epoch, self.batches = -1, iter(())

    def step(self) -> float:
        """One training step (and, when the data runs out, the epoch's end and the next one's start): seconds."""
        start = clock()
        batch = next(self.batches, None)
        if batch is None:
            if self.epoch >= 0:
                self.callbacks.on_epoch_end(self.epoch, {"loss": 0.0})
            self.epoch += 1
            self.state.step = 0
            self.callbacks.on_epoch_begin(self.epoch, {})
            self.batches = iter(self.train)
            batch = next(self.batches)
        result = train_step(self.model, batch, self.loss, self.opt, self.callbacks)
        self.callbacks.on_batch_end(self.state.step, {"loss": result.loss, "size": result.outputs.shape[0]})
        self.state.step += 1
        return clock() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=40, help="windows of --steps step pairs each (default 40)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--every", type=int, default=TrainingHealth().every)
    parser.add_argument("--parts", action="store_true", help="where the callback's own time goes")
    parser.add_argument("--only", type=int, default=None, help="the first N workloads only")
    parser.add_argument("--workload", default=None, help="only the workloads whose name contains this text")
    parser.add_argument("--aa", action="store_true", help="both sides without health: the noise floor")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of this thread's CPU time")
    args = parser.parse_args(argv)
    if args.wall:
        global clock
        clock = time.perf_counter
    print(f"TrainingHealth(every={args.every}); {args.windows} windows of {args.steps} alternating step pairs")
    for name, model, X, y, batch_size in list(workloads())[: args.only]:
        if args.workload and args.workload.lower() not in name.lower():
            continue
        steps = args.steps if "LeNet" not in name else max(1, args.steps // 5)  # (a 10 ms step: keep the run short)
        lamina.manual_seed(0)
        on = Arm(model, X, y, batch_size, None if args.aa else
                 (TimedHealth if args.parts else TrainingHealth)(every=args.every, warn=False))
        off = Arm(copy.deepcopy(model), X, y, batch_size, None)
        for _ in range(20):  # warm-up
            on.step(), off.step()
        ratios, step_times, on_times = [], [], []
        TimedHealth.spent, TimedHealth.parts = 0.0, {}
        for w in range(args.windows):
            t_on = t_off = 0.0
            for i in range(steps):
                if (w + i) % 2:  # which side goes first alternates too
                    t_on += on.step()
                    t_off += off.step()
                else:
                    t_off += off.step()
                    t_on += on.step()
            ratios.append(t_on / t_off)
            on_times.append(t_on)
            step_times.append(t_off / steps)
        q = np.quantile(ratios, [0.25, 0.75])
        print(f"{name}: step {1e6 * statistics.median(step_times):.0f} µs without health; with it: median ratio "
              f"{statistics.median(ratios):.3f} (quartiles {q[0]:.3f}-{q[1]:.3f})")
        if args.parts:  # (the timers themselves cost a few microseconds per hook: the ratio above includes them)
            print(f"    time in its own code {100 * TimedHealth.spent / sum(on_times):.1f}% of its side's:",
                  {k: f"{100 * v / sum(on_times):.2f}%" for k, v in TimedHealth.parts.items()})


if __name__ == "__main__":
    main()
