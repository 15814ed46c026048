"""``lamina train``: a new run or a resumed one, written so that nothing is lost or left half-written.

Every file goes first into a hidden staging folder beside the run folder (``runs.RunFolder``) and is moved into
place once training ends, completed, stopped by Ctrl-C / SIGTERM, or stopped by a loss that is no longer a
number: a failure leaves the old complete run (or no folder) or the new complete one. What ran is always kept
(weights, history, metrics, plot, the checkpoint of the last finished epoch and the best weights by test loss);
a run stopped before its first epoch finished saves nothing, and says so.
"""

from __future__ import annotations

import json
import secrets
import signal
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import lamina
from lamina import distributed
from lamina.cli.runs import (
    _RUN_SETTINGS,
    CLIError,
    RunFolder,
    _load_data,
    _loss,
    _message,
    _new_config,
    _new_run_dir,
    _optimizer,
    _prepare,
    _read_json,
    _run_dir,
    _test_metrics,
    build_model,
    check_settings,
    data_fingerprint,
    flag,
    model_kind,
)
from lamina.data import DataLoader, TensorDataset, TransformDataset, transforms
from lamina.serialization import load, load_checkpoint, load_metadata, save
from lamina.sklearn.mlp import fit_target_scaler
from lamina.sklearn.parts import TASKS
from lamina.training import TrainingError, fit
from lamina.training.callbacks import Callback, GradientMonitor, ModelCheckpoint
from lamina.training.health import TrainingHealth
from lamina.training.signals import HandlersReplaced

EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C


class TrainingFailed(Exception):
    """Training itself failed (the loss became NaN or infinite): exit status 1, one line, what was kept."""


def cmd_train(args) -> int:
    if distributed.launched():
        # under `mpiexec -n P` (P > 1): data-parallel; rank 0 alone writes, and any rank's error ends the whole job
        # (SIGTERM keeps its default there: mpiexec sends it to end the job when a rank dies)
        distributed.init()
        with distributed.abort_on_error():
            return _cmd_train(args, parallel=True)
    with _SigtermAsCtrlC():
        return _cmd_train(args)


def _cmd_train(args, parallel: bool = False) -> int:
    main = not parallel or distributed.rank() == 0
    say = _Printer(args, quiet=not main)
    if args.resume:
        config, run = _resume_config(args)
    else:
        config = _new_config(args)
        run = _new_run_dir(args.out, config["dataset"], args.overwrite) if main else None
    kind = model_kind(config)
    if parallel and not main:
        distributed.barrier()  # rank 0 loads the data first: a dataset that is downloaded is fetched once
    data = _load_data(config["data"], config["seed"], images=kind.images)
    if parallel and main:
        distributed.barrier()
    fingerprint = data_fingerprint(data)
    if args.resume:
        if config.get("data_sha256") not in (None, fingerprint):
            raise CLIError(f"cannot resume {run}: its training data changed since the run began (the data's "
                           f"SHA-256 differs from config.json's data_sha256); start a new run with --out")
    else:
        _describe_data(config, kind, data, fingerprint)
    if parallel:  # rank 0's run folder and config (its run id) for every rank
        shared = [config, run]
        distributed.broadcast_object_list(shared, 0)
        config, run = shared
    X_train, X_test, y_train, y_test = _prepare(data, config)
    lamina.manual_seed(config["seed"])
    try:
        model = build_model(config)
    except ValueError as err:  # sizes that make no model, e.g. too many convolution blocks for a small image
        raise CLIError(_message(err)) from None
    if args.resume:
        _check_checkpoint(run / "checkpoint.ckpt", model)
    arrays = (X_train, X_test, y_train, y_test)
    if not main:  # another rank of a data-parallel run: trains its share, writes nothing
        try:
            _fit(args, config, data, model, arrays, run, [], parallel)
        except TrainingError:
            return 1  # (rank 0 says what happened)
        return 0

    folder = RunFolder(run, resume=bool(args.resume))
    try:
        return _train(args, config, data, model, folder, arrays, say, parallel)
    except BaseException:
        folder.discard()  # the run folder is as it was
        raise


def _fit(args, config, data, model, arrays, folder: Path, callbacks: list, parallel: bool):
    """fit with the run's settings, its checkpoint in ``folder`` (resumed from there with --resume)."""
    X_train, X_test, y_train, y_test = arrays
    train = (X_train, y_train)
    if config.get("augment"):
        train = DataLoader(TransformDataset(TensorDataset(data["X_train"], y_train), _augmentation(config)),
                           batch_size=config["batch_size"], shuffle=True)
    metric = TASKS[config["task"]]["metric"]
    callbacks = [GradientMonitor(every=10), TrainingHealth(warn=False),
                 ModelCheckpoint(folder / "best.safetensors", monitor="val_loss"), _SetLearningRate(config["lr"]),
                 *callbacks]
    with threadpool_limits(limits=getattr(args, "threads", None) or 1, user_api="blas"):  # BLAS loaded since
        return fit(model, train, loss=_loss(config), optimizer=_optimizer(config, model.parameters()),
                   epochs=config["epochs"], val=(X_test, y_test), metrics=[metric], batch_size=config["batch_size"],
                   progress=False, checkpoint=folder / "checkpoint.ckpt",
                   resume=folder / "checkpoint.ckpt" if args.resume else None,
                   clip_grad_norm=config.get("clip_grad_norm"), callbacks=callbacks, distributed=parallel)


def _train(args, config, data, model, folder: RunFolder, arrays, say, parallel: bool = False) -> int:
    X_train, X_test = arrays[:2]
    run, stage = folder.path, folder.stage
    folder.write_json("config.json", config)
    done_before = _epochs_done(stage / "checkpoint.ckpt") if args.resume else 0
    say.progress(f"training {config['dataset']} ({config['task']}, {len(X_train)} train / {len(X_test)} test "
                 f"samples) -> {run}")
    lines = _EpochLines(config["epochs"], say)
    failure = None
    try:
        history = _fit(args, config, data, model, arrays, stage, [lines], parallel)
    except TrainingError as err:
        history, failure = err.history, err
        lines.close()
    with _SignalsDeferred():  # a second Ctrl-C here would leave a half-written run: it is dropped
        saved = _epochs_done(stage / "checkpoint.ckpt") if (stage / "checkpoint.ckpt").is_file() else 0
        if saved <= done_before:  # no epoch finished and checkpointed: nothing worth keeping
            folder.discard()
            if failure is None and not history.interrupted:
                say.note(f"note: {run} had already completed {done_before} epochs; nothing to train (pass --epochs "
                         f"above {done_before} to train more)")
                return 0
            return _nothing_saved(args, run, history, failure, done_before, say)
        if failure is not None and (stage / "best.safetensors").is_file():
            load(stage / "best.safetensors", model)  # the weights before the loss blew up
        results = _write_results(folder, model, config, history, X_test, data["y_test"], say)
        folder.publish()
    for message in history.health.warnings if history.health is not None else ():
        say.note(f"warning: {message}")
    if failure is not None:
        raise TrainingFailed(f"the loss became {_loss_value(failure)} at epoch {failure.epoch}, step "
                             f"{failure.step}, in {run}; the run keeps its {len(history)} finished epochs and, as "
                             f"model.safetensors, the weights with the lowest test loss: lower --lr, add "
                             f"--clip-grad-norm 1.0, or continue with `lamina train --resume {run} --lr LR`")
    if history.interrupted:
        say.note(f"interrupted in epoch {len(history) + 1}: saved {run} with {saved} finished epochs in its "
                 f"checkpoint (model.safetensors holds the weights when stopped); continue with "
                 f"`lamina train --resume {run}`")
    say.result_lines([f"test {key}: {value:.4f}" for key, value in results.items()] + [f"run saved to {run}"])
    return EXIT_INTERRUPTED if history.interrupted else 0


def _write_results(folder: RunFolder, model, config, history, X_test, y_test_raw, say) -> dict:
    stage = folder.stage
    tag = {"run_id": config["run_id"]} if "run_id" in config else None  # runs from before run ids have none
    if not (stage / "best.safetensors").is_file():  # every epoch's test loss was NaN: the last weights stand in
        save(model.state_dict(), stage / "best.safetensors", metadata=tag)
    save(model.state_dict(), stage / "model.safetensors", metadata=tag)
    folder.write_json("history.json", history.to_dict())
    if history.health is not None:
        folder.write_json("health.json", history.health.to_dict())
    results = _test_metrics(model, config, X_test, y_test_raw)
    folder.write_json("metrics.json", results)
    _loss_plot(history, stage, folder.path.name, say)
    return results


def _nothing_saved(args, run: Path, history, failure, done_before: int, say) -> int:
    if args.resume:
        kept = f"{run} is as it was ({done_before} finished epochs)"
        how = f"`lamina train --resume {run}` continues from there"
    else:
        kept = f"no run folder was written ({run} does not exist)" if not run.exists() else f"{run} is as it was"
        how = "run the same command again to start over"
    if failure is not None:
        raise TrainingFailed(f"the loss became {_loss_value(failure)} at epoch {failure.epoch}, step {failure.step}, "
                             f"before any epoch finished; {kept}: lower --lr or add --clip-grad-norm 1.0")
    say.note(f"interrupted in epoch {done_before + 1}, before it finished: nothing was saved and no plot "
             f"drawn; {kept}; {how}")
    return EXIT_INTERRUPTED


def _loss_value(err: TrainingError) -> str:
    text = str(err)
    return text.split("the loss became ", 1)[1].split(" ", 1)[0] if "the loss became " in text else "not a number"


def _resume_config(args, settings=_RUN_SETTINGS, changeable=("epochs", "lr", "clip_grad_norm")) -> tuple[dict, Path]:
    """The config of the run ``--resume`` names, with the ``changeable`` flags given applied; any flag of the
    run's other ``settings`` is refused (a run kind passes its own: the MLP/CNN's, or lamina.cli.sequences')."""
    fixed = [flag(k) for k in settings if getattr(args, k, None) not in (None, False)]
    if fixed:
        raise CLIError(f"--resume continues a run with its own settings; {', '.join(fixed)} cannot change "
                       f"(only {', '.join(flag(k) for k in changeable)}, --threads and the output flags can)")
    run = _run_dir(args.resume)
    config = _read_json(run / "config.json", "config")
    if not (run / "checkpoint.ckpt").is_file():
        raise CLIError(f"cannot resume {run}: checkpoint.ckpt is missing; start a new run with --out")
    changes = {k: getattr(args, k) for k in changeable if getattr(args, k) is not None}
    check_settings(changes, args)
    config.update(changes)
    return config, run


def _check_checkpoint(path: Path, model) -> None:
    """Refuse a corrupt or mismatched checkpoint before the run folder is touched."""
    try:
        load_checkpoint(path, model=model, restore_rng=False)
    except (ValueError, OSError) as err:
        message = _message(err)
        raise CLIError(message if str(path) in message else f"cannot resume from {path}: {message}") from None


def _epochs_done(path: Path) -> int:
    return int(json.loads(load_metadata(path)["epoch"]))


def _describe_data(config: dict, kind, data: dict, fingerprint: str) -> None:
    """A new run's config entries that depend on its data."""
    task = data["task"]
    config["task"] = task
    config["n_features"] = int(np.prod(data["X_train"].shape[1:]))
    config.update(kind.fit_inputs(data["X_train"]))
    config["feature_names"] = data["feature_names"]
    config["class_names"] = data["class_names"]
    config["data_sha256"] = fingerprint
    config["run_id"] = secrets.token_hex(8)
    if task == "classification":
        config["n_outputs"] = int(data["n_classes"])
    else:
        config["n_outputs"] = 1
        config.update(fit_target_scaler(data["y_train"]))


def _augmentation(config: dict):
    """--augment: each training image shifted by up to 10% and rotated by up to 10 degrees (fresh draws per sample
    and epoch, from lamina's global random stream, which checkpoints restore), then normalised."""
    stats = config["normalize"]
    return transforms.Compose([transforms.RandomAffine(degrees=10, translate=(0.1, 0.1), interpolation="bilinear"),
                               transforms.Normalize(stats["mean"], stats["std"])])


def _loss_plot(history, folder: Path, title: str, say) -> None:
    try:
        from lamina.plot import plot_history  # matplotlib (optional) loads only for plots

        plot_history(history, folder / "loss.png", title=title, val_label="test")
    except ImportError as err:
        say.note(f"note: loss curve not plotted ({err})")


# ---------------------------------------------------------------------------------------------------------------
# what the user sees, and signals
# ---------------------------------------------------------------------------------------------------------------
class _Printer:
    """--quiet: nothing; --no-progress: one line per epoch; default: a bar within each epoch, then its line (the
    bar only on a terminal: a log file gets the lines alone)."""

    def __init__(self, args, quiet: bool = False):
        self.quiet = quiet or bool(getattr(args, "quiet", False))
        self.bar = not self.quiet and not args.no_progress and sys.stderr.isatty()

    def progress(self, line: str) -> None:
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)

    note = progress

    def result_lines(self, lines) -> None:
        if not self.quiet:
            print("\n".join(lines), flush=True)


class _EpochLines(Callback):
    """One summary line per epoch (epoch, loss and metric, test loss and metric, time), at most 79 characters so
    that it fits an 80-column terminal; with the bar on, a tqdm bar within the epoch that the line replaces."""

    WIDTH = 79

    def __init__(self, epochs: int, printer: _Printer, held_out: str = "test"):
        self.epochs, self.printer, self.bar, self.held_out = epochs, printer, None, held_out

    def on_epoch_begin(self, epoch, logs):
        self.started = time.perf_counter()
        if self.printer.bar:
            from tqdm import tqdm  # loads only when a bar is shown

            self.bar = tqdm(total=len(self.state.loader), desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch",
                            file=sys.stderr, leave=False, ncols=self.WIDTH, mininterval=0.2)

    def on_batch_end(self, step, logs):
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, epoch, logs):
        self.close()
        self.printer.progress(epoch_line(epoch + 1, self.epochs, logs, time.perf_counter() - self.started,
                                         self.WIDTH, self.held_out))

    def on_train_end(self, logs):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def epoch_line(epoch: int, epochs: int, logs: dict, seconds: float, width: int = 79, held_out: str = "test") -> str:
    """'epoch 3/30  loss 0.1234  acc 0.9750 | test loss 0.1300  acc 0.9667 | 0.4s', cut to ``width``; ``held_out``
    names the ``val_*`` figures ('test' for a run's test split, 'val' for a language model's validation text)."""
    short = {"accuracy": "acc"}

    def part(prefix):
        names = [k for k in logs if k.startswith(prefix) and k[len(prefix):] not in
                 ("lr", "epoch_time", "samples_per_sec") and (prefix or not k.startswith("val_"))]
        return "  ".join(f"{short.get(k[len(prefix):], k[len(prefix):])} {_number(logs[k])}" for k in names)

    line = f"epoch {epoch}/{epochs}  {part('')} | {held_out} {part('val_')} | {seconds:.1f}s"
    return line if len(line) <= width else line[: width - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.3g}"


class _SetLearningRate(Callback):
    """Sets the optimizer's learning rate once training begins, after a resumed checkpoint restored the old one:
    ``--resume RUN --lr LR`` continues with the new rate."""

    def __init__(self, lr: float):
        self.lr = lr

    def on_train_begin(self, logs):
        for group in self.state.optimizer.param_groups:
            group["lr"] = self.lr


class _SigtermAsCtrlC(HandlersReplaced):
    """SIGTERM (a scheduler's or `kill`'s stop) does what Ctrl-C does: during training, stop after the current
    step and keep what ran; before it, stop with nothing written. It stops the run even where Ctrl-C is ignored
    (a job started in the background by a script inherits Ctrl-C ignored)."""

    def __init__(self):
        super().__init__({signal.SIGTERM: self._handler})

    @staticmethod
    def _handler(signum, frame):
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)  # fit's Ctrl-C handler, Python's (KeyboardInterrupt), or the pause's
        else:
            raise KeyboardInterrupt


def _dropped(signum, frame):
    """The handler of Ctrl-C and SIGTERM while the run's files are written: the signal is dropped."""


class _SignalsDeferred(HandlersReplaced):
    """Ctrl-C and SIGTERM are dropped while the run's files are written and moved into place (well under a
    second): stopping there would leave a half-written run, and training has stopped already. (A Python handler
    that does nothing, not SIG_IGN: Ctrl-C ignored then means only what the process inherited, and a signal that
    comes while the two handlers are swapped is dropped too.)"""

    def __init__(self):
        super().__init__({signal.SIGINT: _dropped, signal.SIGTERM: _dropped})


__all__ = ["cmd_train", "epoch_line", "EXIT_INTERRUPTED", "TrainingFailed"]
