"""A character language model on lamina's own corpus: an LSTM and a small decoder-only Transformer learn to
predict the next character of text generated from lamina's grammar, then write some of their own.

Each prints its validation loss (nats per character) against the unigram baseline (predicting every character
by its frequency alone) and a sample; with --plot the Transformer's attention weights over a sentence are saved.

    python examples/char_language_model.py [--steps 150] [--plot DIR]
"""

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits  # installed with scikit-learn

import lamina
from lamina import datasets, optim
from lamina.data import DataLoader
from lamina.training import (
    RNNLanguageModel,
    TransformerLanguageModel,
    generate,
    next_token_loss,
    train_step,
)

CONTEXT = 32


def train(model, corpus, steps: int, lr: float) -> float:
    """``steps`` Adam steps on shuffled training windows (batch 32); returns the last step's loss."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(corpus.train, batch_size=32, shuffle=True)
    step, loss = 0, float("nan")
    while step < steps:
        for batch in loader:
            loss = train_step(model, batch, next_token_loss, optimizer).loss
            step += 1
            if step == steps:
                break
    return loss


def validation_loss(model, corpus) -> float:
    """Mean next-character loss over non-overlapping validation windows."""
    x, y = corpus.val.tensors
    every = np.arange(0, len(corpus.val), CONTEXT)
    model.eval()
    with lamina.no_grad():
        return float(next_token_loss(model(x[every]), y[every]))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="training steps per model (batch 32)")
    parser.add_argument("--plot", metavar="DIR", help="save the Transformer's attention weights as a PNG here")
    args = parser.parse_args(argv)
    # The matrices are small: one BLAS thread is as fast, and on a busy machine several threads spin against
    # other processes (measured on 2 shared cores: 20 steps took longer with the default threads than 150 with one)
    with threadpool_limits(1, user_api="blas"):
        return run(args)


def run(args) -> dict:
    corpus = datasets.load_corpus("grammar", context_length=CONTEXT)
    print(f"corpus: {len(corpus.text):,} characters of lamina's grammar, {corpus.vocab_size} symbols; "
          f"{len(corpus.train):,} training windows of {CONTEXT}")
    print(f"unigram baseline: {corpus.unigram_loss:.3f} nats/char")
    print(corpus.text[:160].rstrip() + " ...\n")

    lamina.manual_seed(0)
    models = {
        "LSTM": (RNNLanguageModel(corpus.vocab_size, embedding_dim=16, hidden_size=64, mode="lstm"), 1e-2),
        "Transformer": (TransformerLanguageModel(corpus.vocab_size, CONTEXT, d_model=48, nhead=4, num_layers=2),
                        5e-3),
    }
    results = {"unigram_loss": corpus.unigram_loss}
    for name, (model, lr) in models.items():
        start = time.perf_counter()
        train(model, corpus, args.steps, lr)
        seconds = time.perf_counter() - start
        val = validation_loss(model, corpus)
        sample = generate(model, corpus.tokenizer, "The ", length=160, temperature=0.7, top_k=10,
                          generator=lamina.Generator().manual_seed(0))
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params:,} parameters, {args.steps} steps in {seconds:.1f} s; validation loss {val:.3f} "
              f"nats/char ({val / corpus.unigram_loss:.0%} of the unigram baseline)")
        print(f"  sample: {sample!r}\n")
        results[name] = {"val_loss": val, "sample": sample, "seconds": seconds}

    if args.plot:
        from lamina import plot

        transformer = models["Transformer"][0]
        text = "The cats that chase a dog sleep."
        ids = lamina.tensor([corpus.tokenizer.encode(text)])
        weights = transformer.attention_weights(ids)[-1][0]  # last layer, first (only) sample: (heads, T, T)
        path = plot.plot_attention(weights, f"{args.plot}/attention.png", tokens=list(text),
                                   title="Transformer, last layer: where each character looks")
        print("wrote", path)
        results["attention_png"] = str(path)
    return results


if __name__ == "__main__":
    if "LAMINA_NUM_THREADS" not in os.environ:  # one BLAS thread: two wait on each other on a busy machine
        lamina.set_num_threads(1)
    main()
