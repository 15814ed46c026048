"""Character language models from the command line: ``lamina train --model lstm|gru|rnn|transformer`` on lamina's
grammar corpus (``--data grammar``, the default) or a text file (``--text PATH``), and ``lamina generate RUN``.

A sequence run folder holds what any run holds (config.json, model.safetensors, history.json, metrics.json,
health.json, loss.png, checkpoint.ckpt); its config also keeps the character vocabulary, so ``generate`` needs
nothing but the folder. Its metrics are the validation loss in nats per character, its perplexity, bits per
character and the unigram baseline (the loss of predicting every character by its frequency alone).

``route`` sends the shared subcommands (train, evaluate, predict, plot, graph, report, info) of a sequence run
here and every other run to ``lamina.cli.commands``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import lamina
from lamina import datasets
from lamina.cli.models import MODEL_KINDS, model_kind
from lamina.cli.runs import (
    CLIError,
    RunFolder,
    _message,
    _new_run_dir,
    _optimizer,
    _read_json,
    build_model,
    flag,
    load_run,
)
from lamina.cli.train import (
    EXIT_INTERRUPTED,
    _EpochLines,
    _epochs_done,
    _Printer,
    _resume_config,
    _SignalsDeferred,
    _SigtermAsCtrlC,
)
from lamina.serialization import save
from lamina.training import History, evaluate, fit
from lamina.training.callbacks import GradientMonitor
from lamina.training.generation import generate
from lamina.training.health import TrainingHealth
from lamina.training.language_models import next_token_loss

SEQUENCE_MODELS = tuple(name for name, kind in MODEL_KINDS.items() if kind.sequence)
# train flags that only sequence runs read, and (dest, for whom) of flags they refuse
SEQUENCE_FLAGS = ("text", "context", "layers", "heads", "embedding_dim")
_NOT_FOR_TEXT = ("csv", "target", "task", "channels", "kernel_size", "augment", "activation", "batchnorm", "root")
_RESUME_FIXED = ("model", "data", "text", "context", "layers", "heads", "embedding_dim", "hidden", "dropout",
                 "optimizer", "lr", "weight_decay", "batch_size", "test_size", "seed", "out")


# ---------------------------------------------------------------------------------------------------------------
# the parser's part
# ---------------------------------------------------------------------------------------------------------------
def add_train_arguments(parser) -> None:
    """The train flags of character language models."""
    parser.add_argument("--text", metavar="PATH", help="sequence models: train on this UTF-8 text file instead of "
                                                       "lamina's grammar corpus")
    parser.add_argument("--context", type=int, metavar="N", help="sequence models: characters per training window "
                                                                 "(default 64; a Transformer's maximum context)")
    parser.add_argument("--layers", type=int, metavar="N", help="sequence models: recurrent or Transformer layers")
    parser.add_argument("--heads", type=int, metavar="N", help="transformer: attention heads (default 4)")
    parser.add_argument("--embedding-dim", type=int, metavar="N", help="rnn/lstm/gru: character embedding size "
                                                                       "(default 32)")


def add_generate_parser(sub) -> None:
    g = sub.add_parser("generate", help="write text with a trained character language model")
    g.add_argument("run", metavar="RUN")
    g.add_argument("--prompt", metavar="TEXT", help="the text to continue (default: a line break)")
    g.add_argument("--length", type=int, default=200, metavar="N", help="characters to generate (default 200)")
    g.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="below 1 sharpens the distribution, above 1 flattens it, 0 is greedy (default 1)")
    g.add_argument("--top-k", type=int, metavar="K", help="sample among the K likeliest characters only")
    g.add_argument("--seed", type=int, default=0, help="the same seed gives the same text (default 0)")
    g.set_defaults(func=cmd_generate)


def route(command, sequence_command):
    """A subcommand that runs ``sequence_command`` for a character language model and ``command`` otherwise."""

    def run(args) -> int:
        return sequence_command(args) if _is_sequence(args) else command(args)

    run.__name__ = command.__name__
    return run


def _is_sequence(args) -> bool:
    if args.command == "train":
        if args.resume:
            return _config_model(args.resume) in SEQUENCE_MODELS
        if args.model is None and (args.text or args.data in datasets.text.CORPORA):
            args.model = "lstm"  # text makes a character model; an LSTM unless --model says otherwise
        if args.model in SEQUENCE_MODELS:
            return True
        given = [flag(k) for k in SEQUENCE_FLAGS if getattr(args, k) is not None]
        if given:
            raise CLIError(f"{', '.join(given)}: for sequence models (--model {'|'.join(SEQUENCE_MODELS)}), not "
                           f"--model {args.model or 'mlp'}")
        return False
    return _config_model(args.run) in SEQUENCE_MODELS


def _config_model(run) -> str | None:
    """The model kind a run folder's config names (None when there is no readable config: the command says why)."""
    try:
        return _read_json(Path(run) / "config.json", "config").get("model")
    except (CLIError, AttributeError):
        return None


# ---------------------------------------------------------------------------------------------------------------
# data and config
# ---------------------------------------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    if not path.is_file():
        raise CLIError(f"cannot read text file {path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CLIError(f"--text {path} is not UTF-8 text (byte {err.start} cannot be decoded)") from None
    except OSError as err:
        raise CLIError(f"cannot read text file {path}: {_message(err)}") from None


def load_text(config: dict) -> datasets.TextCorpus:
    """The run's corpus, split into training and validation windows of context_length characters."""
    data = config["data"]
    if "text" in data:
        path = Path(data["text"])
        text = _read_text(path)
        if data.get("sha256") and hashlib.sha256(text.encode()).hexdigest() != data["sha256"]:
            raise CLIError(f"text file {path} has changed since the run was trained; its validation part is no "
                           "longer the one the run measured")
        what = f"--text {path}"
    else:
        text, what = None, f"corpus {data['corpus']}"
    try:
        return datasets.load_corpus(data.get("corpus") or config["dataset"], context_length=config["context_length"],
                                    val_fraction=data["val_fraction"], stride=config["context_length"],
                                    n_chars=data.get("n_chars", 100_000), seed=data.get("seed", 0), text=text)
    except ValueError as err:
        raise CLIError(f"{what}: {_message(err).removeprefix('load_corpus: ')}") from None


def _new_config(args) -> dict:
    model = args.model
    for dest in _NOT_FOR_TEXT:
        if getattr(args, dest) not in (None, False):
            raise CLIError(f"{flag(dest)} is not for sequence models (--model {model} trains on text)")
    not_for = {"heads": model != "transformer", "embedding_dim": model == "transformer"}
    for dest, refused in not_for.items():
        if refused and getattr(args, dest) is not None:
            raise CLIError(f"{flag(dest)} is not for --model {model}"
                           + (" (its embedding size is --hidden, d_model)" if dest == "embedding_dim" else ""))
    if args.text and args.data:
        raise CLIError("give either --data or --text, not both")
    if args.data and args.data not in datasets.text.CORPORA:
        raise CLIError(f"--model {model} trains on text: use --data {' | '.join(datasets.text.CORPORA)} or "
                       f"--text PATH, not --data {args.data}")
    d = dict(MODEL_KINDS[model].generic)
    d.update({k: getattr(args, k) for k in ("context", "layers", "heads", "embedding_dim", "epochs", "lr",
                                            "batch_size", "weight_decay", "optimizer", "dropout")
              if getattr(args, k) is not None})
    if args.hidden is not None:
        try:
            d["hidden"] = int(args.hidden)
        except ValueError:
            raise CLIError(f"--hidden for --model {model} is one size, e.g. 128, got {args.hidden!r}") from None
    for key in ("context", "layers", "hidden", "epochs", "batch_size") + (
            ("heads",) if model == "transformer" else ("embedding_dim",)):
        if d[key] < 1:
            raise CLIError(f"{flag(key)} must be a positive integer, got {d[key]}")
    if d["lr"] <= 0:
        raise CLIError(f"--lr must be positive, got {d['lr']}")
    if not 0 <= d["dropout"] < 1:
        raise CLIError(f"--dropout must be in [0, 1), got {d['dropout']}")
    if model == "transformer" and d["hidden"] % d["heads"]:
        raise CLIError(f"--hidden {d['hidden']} (d_model) must be divisible by --heads {d['heads']}")
    val_fraction = 0.1 if args.test_size is None else args.test_size
    if not 0 < val_fraction < 1:
        raise CLIError(f"--test-size must be between 0 and 1, got {val_fraction}")
    if args.text:
        path = Path(args.text).resolve()
        text = _read_text(path)
        name, data = path.stem, {"text": str(path), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    else:
        name, data = "grammar", {"corpus": "grammar", "n_chars": 100_000, "seed": 0}
    data["val_fraction"] = val_fraction
    config = {"model": model, "dataset": name, "data": data, "seed": 0 if args.seed is None else args.seed,
              "task": "language_model", "context_length": d["context"], "hidden": d["hidden"],
              "layers": d["layers"]}
    if model == "transformer":
        config["heads"] = d["heads"]
    else:
        config["embedding_dim"] = d["embedding_dim"]
    config.update({k: d[k] for k in ("dropout", "optimizer", "lr", "weight_decay", "epochs", "batch_size")})
    return config


def validation_metrics(model, corpus: datasets.TextCorpus) -> dict:
    """Mean next-character loss (nats) over the validation windows, as perplexity and bits per character, and
    the unigram baseline."""
    loss = evaluate(model, corpus.val, loss=next_token_loss)["loss"]
    return {"loss": loss, "perplexity": math.exp(loss), "bits_per_char": loss / math.log(2),
            "unigram_loss": corpus.unigram_loss}


def _tokenizer(config: dict) -> datasets.CharTokenizer:
    return datasets.CharTokenizer.from_dict(config["tokenizer"])


# ---------------------------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    with _SigtermAsCtrlC():
        return _cmd_train(args)


def _cmd_train(args) -> int:
    say = _Printer(args)
    if args.resume:
        config, run = _resume_config(args, _RESUME_FIXED + _NOT_FOR_TEXT, changeable=("epochs",))
    else:
        config = _new_config(args)
        run = _new_run_dir(args.out, config["dataset"], getattr(args, "overwrite", False))
    corpus = load_text(config)
    if not args.resume:
        config.update(model_kind(config).fit_inputs(corpus))
        config["unigram_loss"] = corpus.unigram_loss
    lamina.manual_seed(config["seed"])
    model = build_model(config)
    folder = RunFolder(run, resume=bool(args.resume))  # written whole or not at all, as lamina.cli.train does
    try:
        return _train(args, config, corpus, model, folder, say)
    except BaseException:
        folder.discard()
        raise


def _train(args, config, corpus, model, folder: RunFolder, say) -> int:
    run, stage = folder.path, folder.stage
    folder.write_json("config.json", config)
    done_before = _epochs_done(stage / "checkpoint.ckpt") if args.resume else 0
    say.progress(f"training a character {config['model']} on {config['dataset']} ({len(corpus.text):,} characters, "
                 f"{corpus.vocab_size} symbols; {len(corpus.train)} train / {len(corpus.val)} validation windows of "
                 f"{config['context_length']}) -> {run}")
    lines = _EpochLines(config["epochs"], say, held_out="val")
    with threadpool_limits(limits=getattr(args, "threads", None) or 1, user_api="blas"):
        history = fit(model, corpus.train, loss=next_token_loss, optimizer=_optimizer(config, model.parameters()),
                      epochs=config["epochs"], val=corpus.val, batch_size=config["batch_size"], progress=False,
                      checkpoint=stage / "checkpoint.ckpt", resume=stage / "checkpoint.ckpt" if args.resume else None,
                      callbacks=[GradientMonitor(every=10), TrainingHealth(warn=False), lines])
    with _SignalsDeferred():
        saved = _epochs_done(stage / "checkpoint.ckpt") if (stage / "checkpoint.ckpt").is_file() else 0
        if saved <= done_before:  # no epoch finished: nothing worth keeping
            folder.discard()
            if not history.interrupted:
                say.note(f"note: {run} had already completed {done_before} epochs; nothing to train")
                return 0
            say.note(f"interrupted in epoch {done_before + 1}, before it finished: nothing was saved; "
                     + (f"{run} is as it was" if args.resume else "run the same command again to start over"))
            return EXIT_INTERRUPTED
        save(model.state_dict(), stage / "model.safetensors")
        folder.write_json("history.json", history.to_dict())
        folder.write_json("health.json", history.health.to_dict())
        results = validation_metrics(model, corpus)
        folder.write_json("metrics.json", results)
        _plot_loss(history, stage, run.name, say)
        folder.publish()
    for message in history.health.warnings:
        say.note(f"warning: {message}")
    if history.interrupted:
        say.note(f"interrupted: saved {run} with {saved} finished epochs; continue with "
                 f"`lamina train --resume {run}`")
    if not say.quiet:
        _print_metrics(results)
        sample = generate(model, _tokenizer(config), corpus.text[:1], length=120, temperature=0.8,
                          generator=lamina.Generator().manual_seed(0))
        print(f"sample: {sample!r}")
        print(f"run saved to {run}")
    return EXIT_INTERRUPTED if history.interrupted else 0


def _print_metrics(results: dict) -> None:
    print(f"validation loss: {results['loss']:.4f} nats/char (unigram baseline {results['unigram_loss']:.4f})")
    print(f"validation perplexity: {results['perplexity']:.4f}")
    print(f"validation bits per char: {results['bits_per_char']:.4f}")


def _plot_loss(history, folder: Path, title: str, say) -> None:
    try:
        from lamina.plot import plot_history  # matplotlib (optional) loads only for plots

        plot_history(history, folder / "loss.png", title=title)
    except ImportError as err:
        say.note(f"note: loss curve not plotted ({err})")


def cmd_evaluate(args) -> int:
    config, model = load_run(args.run)
    _print_metrics(validation_metrics(model, load_text(config)))
    return 0


def cmd_predict(args) -> int:
    raise CLIError(f"{args.run} is a character language model ({_config_model(args.run)}): it writes text, use "
                   f"`lamina generate {args.run} --prompt TEXT`")


def cmd_generate(args) -> int:
    config, model = load_run(args.run)
    if not model_kind(config).sequence:
        raise CLIError(f"{args.run} is a {config.get('model', 'mlp')} run; `lamina generate` needs a character "
                       f"language model (lamina train --model {'|'.join(SEQUENCE_MODELS)})")
    if args.length < 0:
        raise CLIError(f"--length must be >= 0, got {args.length}")
    if not args.temperature >= 0:
        raise CLIError(f"--temperature must be >= 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise CLIError(f"--top-k must be a positive integer, got {args.top_k}")
    tokenizer = _tokenizer(config)
    prompt = "\n" if args.prompt is None and "\n" in tokenizer.stoi else args.prompt
    if prompt is None:
        prompt = tokenizer.vocab[1]
    if not prompt:
        raise CLIError("--prompt must not be empty (it gives the model its first character)")
    ids = model_kind(config).inputs(prompt, config)
    if (ids == tokenizer.unk_id).any():
        i = int(np.argmax(ids == tokenizer.unk_id))
        raise CLIError(f"--prompt: character {prompt[i]!r} at position {i} is not among the run's "
                       f"{tokenizer.vocab_size - 1} characters")
    text = generate(model, tokenizer, prompt, length=args.length, temperature=args.temperature, top_k=args.top_k,
                    generator=lamina.Generator().manual_seed(args.seed))
    print(text[1:] if args.prompt is None else text)
    return 0


def _describe(config: dict) -> str:
    data = config["data"]
    source = data["text"] if "text" in data else f"lamina's {data['corpus']} corpus"
    return (f"{source}, {config['vocab_size'] - 1} characters, windows of {config['context_length']}, "
            f"validation fraction {data['val_fraction']:g}")


def cmd_info(args) -> int:
    config, model = load_run(args.run)
    run = Path(args.run)
    shape = (f"d_model={config['hidden']} heads={config['heads']}" if config["model"] == "transformer"
             else f"embedding_dim={config['embedding_dim']} hidden={config['hidden']}")
    print(f"run:        {run}")
    layers = f"{config['layers']} layer" + ("s" if config["layers"] != 1 else "")
    print(f"model kind: {config['model']} (character language model, {layers}, {shape})")
    print(f"data:       {_describe(config)}")
    print(f"training:   {config['optimizer']} lr={config['lr']:g} weight_decay={config['weight_decay']:g} "
          f"epochs={config['epochs']} batch_size={config['batch_size']} seed={config['seed']}")
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    print("model:")
    print("  " + repr(model).replace("\n", "\n  "))
    if (run / "history.json").is_file():
        h = _read_json(run / "history.json", "history")
        last = {k: v[-1] for k, v in h.get("history", {}).items() if v and k not in ("epoch_time",)}
        print(f"epochs run: {len(h.get('epoch', []))}" + (" (interrupted)" if h.get("interrupted") else ""))
        print("last epoch: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items()))
    if (run / "metrics.json").is_file():
        m = _read_json(run / "metrics.json", "metrics")
        print("validation: " + ", ".join(f"{k}={v:.4f}" for k, v in m.items()))
    return 0


def _attention_plot(model, config, corpus, path: Path):
    """A Transformer's last-layer attention over the start of the first validation window (None for an RNN)."""
    from lamina import plot

    if config["model"] != "transformer":
        return None
    x = corpus.val.tensors[0][:1, :min(32, config["context_length"])]
    weights = model.attention_weights(x)[-1][0]
    return plot.plot_attention(weights, path, tokens=list(_tokenizer(config).decode(x.array[0])),
                               title="last layer: where each character looks")


def cmd_plot(args) -> int:
    from lamina import plot  # matplotlib (optional) loads only for plots
    from lamina.cli.commands import _health_plots

    config, model = load_run(args.run)
    run = Path(args.run)
    history = History.from_dict(_read_json(run / "history.json", "history"))
    written = [plot.plot_history(history, run / "loss.png", title=run.name)]
    if history.gradient_norms:
        written.append(plot.plot_gradient_norms(history, run / "gradient_norms.png"))
    written += _health_plots(run)
    attention = _attention_plot(model, config, load_text(config), run / "attention.png")
    for path in written + ([attention] if attention else []):
        print(f"wrote {path}")
    return 0


def _val_batch(config: dict, n: int):
    x, y = load_text(config).val.tensors
    return x[:n], y[:n]


def cmd_graph(args) -> int:
    from lamina.cli.commands import write_graph

    config, model = load_run(args.run)
    x, y = _val_batch(config, args.batch_size)
    return write_graph(Path(args.run), model, x, y, next_token_loss, f"{len(x)} validation windows")


def cmd_report(args) -> int:
    """report.html: configuration, validation metrics, curves, health, a sample, one batch's trace, the graph."""
    import tempfile

    from lamina import viz  # the drawing code loads only for this command
    from lamina.cli.commands import _report_figures, run_records

    config, model = load_run(args.run)
    run = Path(args.run)
    history, results, health = run_records(run)
    report = viz.Report(f"lamina report: {run.name}", f"character {config['model']} on {_describe(config)}; "
                        f"{len(history)} epochs" + (" (interrupted)" if history.interrupted else ""))
    last = {"last epoch " + k.replace("val_", "validation "): v for k, v in history.last().items()
            if k not in ("epoch_time", "samples_per_sec")}
    report.table("Final metrics", {**{f"validation {k}": v for k, v in results.items()}, **last})
    settings = {k: v for k, v in config.items() if k not in ("tokenizer", "data")}
    settings.update({f"data {k}": v for k, v in config["data"].items()})
    settings["parameters"] = sum(p.numel() for p in model.parameters())
    settings["model"] = repr(model)
    report.table("Configuration", settings)
    tokenizer = _tokenizer(config)
    sample = generate(model, tokenizer, "\n" if "\n" in tokenizer.stoi else tokenizer.vocab[1], length=300,
                      temperature=0.8, generator=lamina.Generator().manual_seed(0))
    report.text("Sample", sample.strip(), ())
    x, y = _val_batch(config, args.batch_size)
    model.eval()
    trace = viz.trace(model, x, y, next_token_loss)
    with tempfile.TemporaryDirectory() as tmp:
        figures = _report_figures(model, config, history, health, trace, Path(tmp))
        if "loss" in figures:
            report.image("Loss curves", figures["loss"], "per epoch: training and validation loss (nats/char)")
        if health is not None:
            report.images("Training health", [(figures[k], c) for k, c in (
                ("health", "dead or saturated units, update size relative to the weights, gradient norms"),
                ("activations", "each activation layer's values: quantile bands per epoch"),
                ("gradients", "each weight's gradient dL/dW: quantile bands per epoch")) if k in figures],
                note=f"sampled every {health.get('every')}th batch; warnings: {len(health.get('warnings', []))}")
        report.trace(f"Building blocks of one batch ({len(x)} validation windows)", trace, figures.get("trace"),
                     "forward and backward of each layer (gradients of the loss)")
        if "note" in figures:
            report.text("Plots", figures["note"])
    graphs = [viz.graph(model, x, target=y, loss_fn=next_token_loss, level=level) for level in ("module", "op")]
    report.graphs("Computation graph", graphs, f"{len(x)} validation windows through the trained model")
    path = run / "report.html"
    report.to_html(path)
    print(f"wrote {path}")
    return 0
