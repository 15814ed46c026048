"""``search``: an Optuna study with TPE sampling and Hyperband pruning, run to a number of trials that several
processes share, on storage that survives them.

How the trial count is kept: each process takes trials in a loop; under a lock (a file next to an SQLite
database) it marks trials whose process has died as failed, counts the trials that are finished or running, and
asks for a new one only while the count is below ``n_trials``. A trial killed with its process therefore does
not count, and the study gets it back when any process next works on it (``lamina tune`` run again resumes).
Trial numbers come from the database, so two processes never share one. A trial whose loss diverges (NaN, a
``TrainingError``) is marked failed and counts; any other error fails the trial and is raised.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from pathlib import Path

import numpy as np

from lamina.training import TrainingError
from lamina.tune.pruning import PruningCallback
from lamina.tune.space import SearchSpace, default_space

KILLED = "lamina_process_died"  # user attribute of a trial failed because its process was gone


def optuna_module():
    """Optuna, or an ImportError that says how to install it."""
    try:
        import optuna
    except ImportError:
        raise ImportError("hyperparameter search needs Optuna: pip install lamina[tune]") from None
    return optuna


def _storage(optuna, storage):
    """An Optuna storage: None keeps the study in memory; a URL (``sqlite:///runs/tune.db``) or a storage object."""
    if storage is None or not isinstance(storage, str):
        return storage
    if storage.startswith("sqlite:///"):
        Path(storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # several processes write to one file: wait for its lock instead of failing at once; and the first of
        # them creates the database's tables while the others wait (two creating them at once collide)
        with _study_lock(storage):
            return optuna.storages.RDBStorage(storage, engine_kwargs={"connect_args": {"timeout": 60}})
    return optuna.storages.RDBStorage(storage)


@contextlib.contextmanager
def _study_lock(storage):
    """An exclusive lock between processes for an SQLite study (a ``.lock`` file beside the database)."""
    url = getattr(storage, "url", storage)
    if not (isinstance(url, str) and url.startswith("sqlite:///")):
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (two processes may then run one trial past the count)
        yield
        return
    with open(url[len("sqlite:///"):] + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_dead_trials(optuna, study) -> None:
    """Mark as failed the running trials whose process (on this machine) no longer exists."""
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner = t.user_attrs.get("lamina_owner")
        if owner and owner.get("host") == host and owner.get("pid") != os.getpid() and not _alive(owner["pid"]):
            study._storage.set_trial_user_attr(t._trial_id, KILLED, True)
            study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)


def counted(optuna, trials) -> list:
    """The trials that count towards ``n_trials``: all but those failed because their process died."""
    return [t for t in trials if t.state != optuna.trial.TrialState.WAITING and not t.user_attrs.get(KILLED)]


DEFAULT_SMOOTHING = 0.1  # a classification search's label smoothing unless its space or fixed settings say


def _config_objective(config: dict):
    """An Optuna objective from a config: train a LaminaClassifier (or LaminaRegressor) per trial and return the
    monitored validation value of its best epoch (with ``best_epoch=False``: of its last), the estimator keeping
    that epoch's weights."""
    from lamina import nn
    from lamina.sklearn import LaminaClassifier, LaminaRegressor
    from lamina.training.callbacks import EarlyStopping

    config = dict(config)
    unknown = set(config) - {"X", "y", "task", "space", "epochs", "validation_fraction", "seed", "fixed", "monitor",
                             "on_trial_end", "adapt", "best_epoch"}
    if unknown or not {"X", "y"} <= set(config):
        raise ValueError(f"a search config needs X and y and may have task, space, epochs, validation_fraction, seed, "
                         f"fixed, monitor, best_epoch, adapt and on_trial_end; got {', '.join(sorted(config))}")
    X, y = config["X"], config["y"]
    task = config.get("task")
    if task is None:
        kind = np.asarray(y).dtype.kind
        task = "classification" if kind in "iubOUS" else "regression"
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    space = config.get("space")
    space = default_space() if space is None else space if isinstance(space, SearchSpace) else SearchSpace(space)
    monitor = config.get("monitor") or ("val_accuracy" if task == "classification" else "val_r2")
    direction = "maximize" if monitor.split("_")[-1] in ("accuracy", "r2", "f1") else "minimize"
    Estimator = LaminaClassifier if task == "classification" else LaminaRegressor
    fixed = {"epochs": config.get("epochs", 30), "validation_fraction": config.get("validation_fraction", 0.2),
             "random_state": config.get("seed", 0), **config.get("fixed", {})}
    smoothing_given = "label_smoothing" in space.dims or "label_smoothing" in fixed
    if task == "regression" and smoothing_given:
        raise ValueError("label_smoothing is for classification (a cross-entropy loss), not regression")
    if task == "classification" and not smoothing_given and "loss" not in fixed:
        fixed["label_smoothing"] = DEFAULT_SMOOTHING
    best_epoch = config.get("best_epoch", True)

    def objective(trial):
        params = {**fixed, **space.sample(trial)}
        smoothing = params.pop("label_smoothing", 0.0)
        if not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
            raise ValueError(f"label_smoothing must be in [0, 1), got {smoothing!r}")
        if smoothing:
            if params.get("loss") is not None:
                raise ValueError("label_smoothing makes the loss a smoothed cross-entropy: give one or the other")
            params["loss"] = nn.CrossEntropyLoss(label_smoothing=float(smoothing))
        if config.get("adapt") is not None:  # e.g. drawn settings that are the module builder's (module__*)
            params = config["adapt"](params)
        callbacks = [PruningCallback(trial, monitor)]
        if best_epoch:  # keeps a copy of the best epoch's weights; never stops training
            keeper = EarlyStopping(monitor, patience=int(params.get("epochs", 30)) + 1,
                                   mode="max" if direction == "maximize" else "min", restore_best_weights=True)
            callbacks.append(keeper)
        estimator = Estimator(**params, callbacks=callbacks)
        estimator.fit(X, y)
        if monitor not in estimator.history_:
            raise KeyError(f"the estimator's history has no {monitor!r} (a validation_fraction above 0 gives val_*)")
        value = estimator.history_[monitor][-1]
        epoch = len(estimator.history_[monitor])
        if best_epoch and keeper.best_weights is not None:
            estimator.module_.load_state_dict(keeper.best_weights)
            value, epoch = keeper.best, keeper.best_epoch + 1
        trial.set_user_attr("best_epoch", epoch)
        if config.get("on_trial_end") is not None:
            config["on_trial_end"](trial, estimator, value)
        return value

    objective.direction = direction
    objective.monitor = monitor
    return objective


def search(objective_or_config, n_trials: int, *, storage=None, study_name: str | None = None,
           direction: str | None = None, timeout: float | None = None, seed: int | None = 0, startup_trials: int = 5,
           pruner="hyperband", min_epochs: int = 5, pruner_startup: int = 5, warmup_epochs: int = 2,
           pruning: bool = True, on_trial=None):
    """Run an Optuna study to ``n_trials`` trials (counted over every process that works on it) and return it.

    ``objective_or_config``: an Optuna objective ``f(trial) -> float`` (use ``PruningCallback`` in its ``fit`` to
    prune), or a config dict: ``X``, ``y``, and optionally ``task``, ``space`` (a dict or ``SearchSpace``; default
    ``default_space()``; ``load_space(path)`` reads one from TOML), ``epochs`` (30), ``validation_fraction`` (0.2),
    ``seed`` (0), ``fixed`` (more estimator arguments), ``adapt(params) -> params`` (applied to each trial's
    estimator arguments),
    ``monitor`` (``val_accuracy`` / ``val_r2``), ``best_epoch`` and ``on_trial_end(trial, estimator, value)``.
    A config's trial is worth its best epoch's validation value, and its estimator ends with that epoch's weights
    (the early-stopping checkpoint; ``best_epoch=False``: the last epoch's value and weights); the epoch (from
    1) is the trial's ``best_epoch`` user attribute. A classification config trains with a cross-entropy smoothed
    by ``label_smoothing`` (a fixed value or a range in ``space`` or ``fixed``; 0.1 unless given, or unless
    ``fixed`` gives a ``loss``).
    ``storage``: None (in memory), a URL such as ``sqlite:///runs/tune.db`` (resumable,
    shareable), or an Optuna storage. ``study_name`` names the study in it (created or continued).
    ``direction``: 'maximize' or 'minimize' (a config's follows its monitor). The sampler is TPE (its first
    ``startup_trials`` random), seeded from ``seed`` and from how many processes joined the study before, so two
    processes draw differently (Optuna's defaults otherwise). ``pruner``: ``'hyperband'`` (Optuna's
    ``HyperbandPruner``, which Optuna recommends with TPE: successive halving in brackets; a trial runs at least
    ``min_epochs`` epochs, and at each rung (epochs 5 and 15 with ``min_epochs=5``; later brackets start at a
    higher rung) only the best third of the trials that reached it goes on; the largest budget is a config's
    ``epochs``, else the first finished trial's, and a config of no more than ``min_epochs`` epochs is pruned by
    median instead),
    ``'median'`` (stop a trial whose value at an epoch is worse than the median of the earlier trials at that
    epoch, once ``pruner_startup`` trials have finished and after ``warmup_epochs`` epochs) or an Optuna pruner;
    ``pruning=False`` finishes every trial. ``timeout``: no
    trial starts after that many seconds. ``on_trial(study, frozen_trial)`` runs after each trial of this process.
    """
    optuna = optuna_module()
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if callable(objective_or_config):
        objective = objective_or_config
    elif isinstance(objective_or_config, dict):
        objective = _config_objective(objective_or_config)
    else:
        raise TypeError("search takes an objective function or a config dict, got "
                        f"{type(objective_or_config).__name__}")
    direction = direction or getattr(objective, "direction", "maximize")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = _storage(optuna, storage)
    max_epochs = objective_or_config.get("epochs", 30) if isinstance(objective_or_config, dict) else "auto"
    pruner = _pruner(optuna, pruner if pruning else "none", min_epochs, max_epochs, pruner_startup, warmup_epochs)
    with _study_lock(store):
        study = optuna.create_study(storage=store, study_name=study_name, direction=direction, load_if_exists=True,
                                    pruner=pruner)
        worker = int(study.user_attrs.get("lamina_workers", 0))
        study.set_user_attr("lamina_workers", worker + 1)
    study.sampler = optuna.samplers.TPESampler(n_startup_trials=startup_trials,
                                               seed=None if seed is None else seed + 7919 * worker)
    started = time.monotonic()
    owner = {"host": socket.gethostname(), "pid": os.getpid()}
    while True:
        with _study_lock(store):
            _fail_dead_trials(optuna, study)
            if len(counted(optuna, study.get_trials(deepcopy=False))) >= n_trials:
                break
            if timeout is not None and time.monotonic() - started > timeout:
                break
            trial = study.ask()
            trial.set_user_attr("lamina_owner", owner)
        state, value = _run(optuna, objective, trial)
        frozen = study.tell(trial, value, state=state, skip_if_finished=True)
        if on_trial is not None:
            on_trial(study, frozen)
    return study


def _pruner(optuna, kind, min_epochs, max_epochs, pruner_startup, warmup_epochs):
    """The study's pruner from its name ('hyperband', 'median', 'none') or an Optuna pruner object."""
    if not isinstance(kind, str):
        return kind
    if kind == "hyperband":
        if isinstance(min_epochs, bool) or not isinstance(min_epochs, int) or min_epochs < 1:
            raise ValueError(f"min_epochs must be a positive integer, got {min_epochs!r}")
        if max_epochs != "auto" and max_epochs <= min_epochs:  # a budget too small to halve: prune by median
            return optuna.pruners.MedianPruner(n_startup_trials=pruner_startup, n_warmup_steps=warmup_epochs)
        return optuna.pruners.HyperbandPruner(min_resource=min_epochs, max_resource=max_epochs, reduction_factor=3)
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=pruner_startup, n_warmup_steps=warmup_epochs)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"pruner must be 'hyperband', 'median', 'none' or an Optuna pruner, got {kind!r}")


def _run(optuna, objective, trial):
    """(state, value) of one trial; a KeyboardInterrupt fails it as if its process had died, then propagates."""
    try:
        value = float(objective(trial))
    except optuna.TrialPruned:
        return optuna.trial.TrialState.PRUNED, None
    except TrainingError as err:  # the loss diverged: a bad configuration, not a bug
        trial.set_user_attr("lamina_error", str(err).splitlines()[0])
        return optuna.trial.TrialState.FAIL, None
    except BaseException as err:
        interrupted = isinstance(err, KeyboardInterrupt)
        trial.set_user_attr(KILLED if interrupted else "lamina_error", True if interrupted else repr(err)[:500])
        trial.study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        raise
    if not math.isfinite(value):
        return optuna.trial.TrialState.FAIL, None
    return optuna.trial.TrialState.COMPLETE, value


def trials_table(study) -> tuple[list[str], list[list]]:
    """(header, rows) of a study's trials: number, state, value, the epochs each ran, the epoch its value is from
    (a config's trials record it; empty otherwise), duration and its parameters."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({name for t in trials for name in t.params})
    header = ["number", "state", "value", "epochs", "best_epoch", "duration_s", *names]
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else ""
        rows.append([t.number, t.state.name, "" if t.value is None else t.value, len(t.intermediate_values),
                     t.user_attrs.get("best_epoch", ""), duration if duration == "" else round(duration, 3),
                     *(t.params.get(n, "") for n in names)])
    return header, rows
