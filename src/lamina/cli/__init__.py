"""The ``lamina`` command: train a multilayer perceptron on a bundled dataset or a CSV file, or a convolutional
network on images, then evaluate, predict, plot and inspect the saved run.

    lamina train                          # an MLP on the bundled handwritten digits
    lamina train --data xor --hidden 8 --activation tanh
    lamina train --model cnn --data shapes   # a LeNet-style CNN on lamina's generated shapes
    lamina train --csv houses.csv --target price --epochs 100
    lamina train --resume runs/digits     # continue an interrupted run
    lamina train --model lstm             # a character language model on lamina's grammar corpus
    lamina train --model transformer --text book.txt --context 128
    lamina generate runs/grammar --prompt "The cat" --length 200 --temperature 0.8 --top-k 10
    lamina evaluate runs/digits
    lamina predict runs/digits --input samples.csv --output predictions.csv
    lamina plot runs/digits
    lamina info runs/digits
    lamina graph runs/digits              # graph.html: the computation graph, with values and gradients
    lamina report runs/digits             # report.html: metrics, curves, health, trace and graph on one page
    lamina tune --data digits --trials 20 # hyperparameter search with Optuna; runs/tune-digits/best is a run

A run folder holds model.safetensors (the weights), config.json (what rebuilds the model and preprocesses raw
input: the model kind, dataset, task, sizes, activation, class names, the feature scaler or, for a CNN, the image
shape and each channel's mean and standard deviation), history.json, metrics.json (test metrics), health.json
(each layer's activation and gradient statistics per epoch, from TrainingHealth), loss.png,
checkpoint.ckpt (for --resume) and best.safetensors (the weights of the lowest test loss); `lamina plot` adds a
CNN's filters.png and feature_maps.png. ``train`` writes them whole or not at all (see ``train``).

The package: ``models`` (the table of model kinds: builders, defaults, input preprocessing), ``runs`` (datasets,
run folders), ``commands`` (one function per subcommand), ``sequences`` (the same subcommands for character
language models, and ``generate``) and, here, the argument parser and ``main``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings

import numpy as np

from lamina.cli import sequences
from lamina.cli.commands import cmd_evaluate, cmd_graph, cmd_info, cmd_plot, cmd_predict, cmd_report, cmd_train
from lamina.cli.inputs import HEADER_RULE
from lamina.cli.runs import ACTIVATIONS, DATASETS, MODEL_KINDS, OPTIMIZERS, CLIError, _message, build_model, load_run
from lamina.cli.train import EXIT_INTERRUPTED, TrainingFailed
from lamina.cli.tune import add_parser as add_tune_parser


# ---------------------------------------------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{message} (see `{self.prog} --help`)")


def _positive_float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lamina", description="Train and use neural networks with lamina.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train an MLP or a CNN (default: an MLP on the bundled handwritten digits)")
    t.add_argument("--model", choices=tuple(MODEL_KINDS),
                   help="mlp (default): a multilayer perceptron on feature rows; cnn: a LeNet-style convolutional "
                        "network on images (--data shapes, digits, mnist or fashion_mnist); lstm, gru, rnn, "
                        "transformer: a character language model on text (--data grammar or --text PATH)")
    t.add_argument("--data", help=f"bundled dataset: {', '.join(DATASETS)} (default digits)")
    t.add_argument("--csv", metavar="PATH", help="train on a CSV file instead (with --target)")
    t.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    t.add_argument("--task", choices=("classification", "regression"), help="inferred when possible")
    t.add_argument("--hidden", metavar="SIZES", help="hidden layer sizes, e.g. 128,64 ('' for none); for a CNN the "
                                                     "fully connected layers after the convolutions (default 120,84)")
    t.add_argument("--channels", metavar="SIZES", help="CNN: output channels of each convolution block (default 6,16)")
    t.add_argument("--kernel-size", type=int, metavar="K", help="CNN: odd convolution kernel size (default 5)")
    t.add_argument("--augment", action="store_true",
                   help="CNN: random shifts (up to 10%%) and rotations (up to 10 degrees) of each training image")
    t.add_argument("--activation", choices=tuple(ACTIVATIONS))
    t.add_argument("--dropout", type=_positive_float, help="dropout probability after each hidden layer")
    t.add_argument("--batchnorm", action="store_true",
                   help="BatchNorm1d after each hidden Linear layer (a CNN: BatchNorm2d after each convolution)")
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--lr", type=_positive_float, help="learning rate")
    t.add_argument("--weight-decay", type=_positive_float)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--test-size", type=_positive_float, help="held-out fraction (default 0.2)")
    t.add_argument("--seed", type=int, help="seeds the split, the initial weights, shuffling and dropout (default 0)")
    t.add_argument("--clip-grad-norm", type=_positive_float, metavar="MAX",
                   help="scale the gradients down when their total L2 norm exceeds MAX (e.g. 1.0)")
    t.add_argument("--out", metavar="DIR", help="run folder (default runs/<dataset>-<time>); it must be new or "
                                                "empty unless --overwrite")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run in a non-empty --out folder (the old run stays whole until the new one "
                        "is complete)")
    t.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its checkpoint (--epochs, "
                                                   "--lr and --clip-grad-norm may change)")
    t.add_argument("--root", metavar="DIR", help="folder with the MNIST / Fashion-MNIST IDX files")
    t.add_argument("--threads", type=int, metavar="N",
                   help="BLAS threads (default 1, or LAMINA_NUM_THREADS): 1 is fastest on a busy machine and "
                        "keeps seeded runs bit-identical from machine to machine")
    t.add_argument("--no-progress", action="store_true", help="no progress bar: one summary line per epoch")
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sequences.add_train_arguments(t)
    t.set_defaults(func=sequences.route(cmd_train, sequences.cmd_train))

    e = sub.add_parser("evaluate", help="print a run's test metrics")
    e.add_argument("run", metavar="RUN")
    e.set_defaults(func=sequences.route(cmd_evaluate, sequences.cmd_evaluate))

    p = sub.add_parser("predict", help="predict with a trained run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--input", required=True, metavar="FILE",
                   help=f"raw features, one row per sample: .npy, or .csv where {HEADER_RULE}; a header's columns "
                        "are matched to the training features by name")
    p.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                   help="the CSV's first row is (--header) or is not (--no-header) a header")
    p.add_argument("--output", metavar="FILE", help="write predictions to this .csv or .npy instead of printing")
    p.set_defaults(func=sequences.route(cmd_predict, sequences.cmd_predict))

    pl = sub.add_parser("plot", help="write a run's plots (PNG) into its folder")
    pl.add_argument("run", metavar="RUN")
    pl.set_defaults(func=sequences.route(cmd_plot, sequences.cmd_plot))

    g = sub.add_parser("graph", help="write graph.html: the model's computation graph, by module and by operation")
    g.add_argument("run", metavar="RUN")
    g.add_argument("--batch-size", type=int, default=8, help="test samples run through the graph (default 8)")
    g.set_defaults(func=sequences.route(cmd_graph, sequences.cmd_graph))

    r = sub.add_parser("report", help="write report.html: one offline page with everything about a run")
    r.add_argument("run", metavar="RUN")
    r.add_argument("--batch-size", type=int, default=8, help="test samples traced and drawn (default 8)")
    r.set_defaults(func=sequences.route(cmd_report, sequences.cmd_report))

    i = sub.add_parser("info", help="architecture, parameter count and final metrics of a run")
    i.add_argument("run", metavar="RUN")
    i.set_defaults(func=sequences.route(cmd_info, sequences.cmd_info))

    sequences.add_generate_parser(sub)
    add_tune_parser(sub, _positive_float)  # lamina tune (cli/tune.py)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``lamina`` console script; returns the exit status: 0, 2 for bad input (arguments,
    files), 1 for a failure during training (or an unexpected one), 130 when Ctrl-C or SIGTERM stopped it."""
    try:
        args = make_parser().parse_args(argv)
        if args.command is None:
            make_parser().print_help()
            return 2
        with _numpy_quiet(), _blas_threads(args):
            return args.func(args)
    except CLIError as err:
        print(f"lamina: error: {err}", file=sys.stderr)
        return 2
    except TrainingFailed as err:
        print(f"lamina: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lamina: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # no tracebacks for users; LAMINA_DEBUG=1 shows them
        if os.environ.get("LAMINA_DEBUG"):
            raise
        print(f"lamina: error: {_message(err)}; run again with LAMINA_DEBUG=1 to see where it failed",
              file=sys.stderr)
        return 1


@contextlib.contextmanager
def _numpy_quiet():
    """No NumPy RuntimeWarnings (overflow, invalid value) with source lines: lamina checks the numbers that matter
    (inputs, targets, losses) and reports them in its own words."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@contextlib.contextmanager
def _blas_threads(args):
    """BLAS threads for the command: --threads, else LAMINA_NUM_THREADS, else 1 (on a busy machine two threads
    wait on each other: a step took 7x longer; one thread also makes runs repeat bit for bit anywhere). The count
    is kept in ``args.threads`` for libraries loaded later (train applies it again around training)."""
    threads = getattr(args, "threads", None)
    if threads is None:
        env = os.environ.get("LAMINA_NUM_THREADS", "")
        threads = int(env) if env.isdigit() else 1
    if threads < 1:
        raise CLIError(f"--threads must be a positive whole number, got {threads}")
    from threadpoolctl import threadpool_limits  # inspects the loaded libraries: only when a command runs

    args.threads = threads
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


if __name__ == "__main__":
    sys.exit(main())
