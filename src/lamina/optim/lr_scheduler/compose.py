"""Schedulers made of schedulers: one after another (SequentialLR) or all at once (ChainedScheduler)."""

from __future__ import annotations

import copy
from bisect import bisect_right

from lamina.optim.lr_scheduler.scheduler import LRScheduler, ReduceLROnPlateau


def _check(composite: str, schedulers, optimizer) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{composite} expects at least one scheduler, got none")
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{composite}: the scheduler at index {i} ({type(scheduler).__name__}) has no optimizer")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{composite} cannot hold ReduceLROnPlateau (index {i}): its step() needs the metric")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{composite}: the scheduler at index {i} ({type(scheduler).__name__}) belongs to "
                             "another optimizer; all must share one")


def _undo_step(scheduler) -> None:
    """Take back the step every scheduler made when it was built (composites: in each of their schedulers)."""
    if hasattr(scheduler, "_schedulers"):
        for s in scheduler._schedulers:
            _undo_step(s)
    elif hasattr(scheduler, "last_epoch"):
        scheduler.last_epoch -= 1


class _Composite(LRScheduler):
    """state_dict holds the wrapped schedulers' state_dicts; ``interval`` is 'batch' if any of them steps per
    batch."""

    @property
    def interval(self) -> str:
        return "batch" if any(getattr(s, "interval", "epoch") == "batch" for s in self._schedulers) else "epoch"

    def state_dict(self) -> dict:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = copy.deepcopy(state_dict)
        inner = state.pop("_schedulers")
        self.__dict__.update(state)
        for scheduler, scheduler_state in zip(self._schedulers, inner):
            scheduler.load_state_dict(scheduler_state)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(type(s).__name__ for s in self._schedulers)})"


class SequentialLR(_Composite):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` (restarted at its epoch 0) until
    ``milestones[1]``, and so on; e.g. LinearLR warm-up then CosineAnnealingLR."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        _check("SequentialLR", schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo what building the later schedulers did to the lrs
            group["lr"] = group["initial_lr"]
        _undo_step(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Step every scheduler at each step, in order: their (multiplicative) effects compose."""

    def __init__(self, schedulers, optimizer=None):
        optimizer = schedulers[0].optimizer if optimizer is None and schedulers else optimizer
        _check("ChainedScheduler", schedulers, optimizer)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = self._group_lrs()

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._group_lrs()
