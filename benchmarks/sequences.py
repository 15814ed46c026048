"""Workload i: sequence models against PyTorch eager (issue 11, part 5), the same weights on both sides.

- i_lstm: nn.LSTM, 2 layers, input 64, hidden 128, sequence 64, batch 32; MSE on every output, Adam. Target: training
  steps/s ≥ 1.0x PyTorch.
- i_bigru: a bidirectional nn.GRU (input 1, hidden 6) on length-40 sequences, batch 100, then Linear(12, 1) on the
  last step; MSE, Adam. Target ≥ 2x (tiny recurrent layers are overhead-bound: PyTorch pays its per-op cost at
  every step of every direction).
- i_transformer: nn.TransformerEncoder, 2 layers of d_model 128, 4 heads, feed-forward 512 (PyTorch's defaults
  otherwise: post-norm, ReLU, dropout 0.1), sequence 64, batch 32; MSE on every output, Adam. Target ≥ 1.0x.
- i_generate: a character Transformer (``TransformerLanguageModel``: vocab 35, d_model 64, 4 heads, 2 pre-norm
  layers, context 64) generating text one character at a time (rereading its last 64 characters each step,
  temperature 1, top-k 10), tokens/s. Target ≥ 1.0x.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Comparison, Settings, Target, interleave

NOTE = ("Both sides start from the same weights (lamina's initial ones, copied into torch through the state_dict) "
        "and see the same data; {steps} steps per side per round, after {warmup} warm-up steps.")


class _Trainer:
    """n training steps of ``model`` on fixed inputs: forward, MSE, zero_grad, backward, Adam."""

    def __init__(self, lib, model, forward, x, y):
        self.lib, self.model, self.forward = lib, model, forward
        self.x, self.y = lib.tensor(x), lib.tensor(y)
        self.optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
        self.loss = float("nan")

    def __call__(self, n: int) -> None:
        mse = self.lib.nn.functional.mse_loss
        for _ in range(n):
            loss = mse(self.forward(self.model, self.x), self.y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.loss = float(loss.item()) if n else self.loss


def _pair(make, peers):
    """(lamina model, torch model with lamina's weights) from make(lib)."""
    import torch

    import lamina

    lamina.manual_seed(0)
    ours = make(lamina)
    theirs = make(torch) if "torch" in peers else None
    if theirs is not None:
        theirs.load_state_dict({k: torch.from_numpy(np.array(v.detach().numpy())) for k, v in
                                ours.state_dict().items()})
    return ours, theirs


def _train_comparison(key, title, make, forward, x, y, steps, settings, peers, target) -> Comparison:
    import torch

    import lamina

    ours, theirs = _pair(make, peers)
    sides = {"lamina": _Trainer(lamina, ours, forward, x, y)}
    if theirs is not None:
        sides["torch"] = _Trainer(torch, theirs, forward, x, y)
    warmup = settings.warmup(steps)
    seconds = interleave(sides, steps, settings.repeats, warmup)
    losses = ", ".join(f"{name} {side.loss:.5f}" for name, side in sides.items())
    return Comparison(key=key, title=title, unit="steps/s", values={k: [steps / s for s in v] for k, v in
                                                                     seconds.items()},
                      targets={"torch": Target(">=", target)},
                      notes=[NOTE.format(steps=steps, warmup=warmup),
                             f"MSE after all steps (same trajectory check): {losses}."])


# ---------------------------------------------------------------------------------------------------------------
# the workloads
# ---------------------------------------------------------------------------------------------------------------
def lstm(settings: Settings, peers: list) -> Comparison:
    rng = np.random.default_rng(0)
    steps_, batch, width = (8, 4, 16) if settings.quick else (64, 32, 64)
    x = rng.standard_normal((steps_, batch, width)).astype(np.float32)
    y = rng.standard_normal((steps_, batch, 2 * width)).astype(np.float32)
    return _train_comparison(
        "i_lstm", f"LSTM 2 layers, input {width}, hidden {2 * width}, sequence {steps_}, batch {batch}: training, Adam",
        lambda lib: lib.nn.LSTM(width, 2 * width, num_layers=2), lambda m, x: m(x)[0], x, y,
        3 if settings.quick else 10, settings, peers, 1.0)


class _BiGRU:
    @staticmethod
    def make(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.gru = lib.nn.GRU(1, 6, batch_first=True, bidirectional=True)
                self.head = lib.nn.Linear(12, 1)

            def forward(self, x):
                return self.head(self.gru(x)[0][:, -1])

        return Net()


def bigru(settings: Settings, peers: list) -> Comparison:
    rng = np.random.default_rng(1)
    batch, length = (10, 8) if settings.quick else (100, 40)
    x = rng.standard_normal((batch, length, 1)).astype(np.float32)
    y = (x.sum(axis=1) / np.sqrt(length)).astype(np.float32)
    return _train_comparison(
        "i_bigru", f"bidirectional GRU (input 1, hidden 6), length {length}, batch {batch}, then Linear: training, "
                   "Adam", _BiGRU.make, lambda m, x: m(x), x, y, 3 if settings.quick else 50, settings, peers, 2.0)


def transformer(settings: Settings, peers: list) -> Comparison:
    rng = np.random.default_rng(2)
    d, heads, ff, layers, length, batch = (16, 2, 32, 2, 8, 4) if settings.quick else (128, 4, 512, 2, 64, 32)
    x = rng.standard_normal((batch, length, d)).astype(np.float32)
    y = rng.standard_normal((batch, length, d)).astype(np.float32)

    def make(lib):
        layer = lib.nn.TransformerEncoderLayer(d, heads, ff, batch_first=True)
        return lib.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    return _train_comparison(
        "i_transformer", f"Transformer encoder, {layers} layers, d_model {d}, {heads} heads, feed-forward {ff}, "
                         f"sequence {length}, batch {batch}: training, Adam", make, lambda m, x: m(x), x, y,
        3 if settings.quick else 10, settings, peers, 1.0)


class _TorchCharTransformer:
    """PyTorch's twin of lamina's TransformerLanguageModel (same modules, names and forward)."""

    @staticmethod
    def make(vocab, context, d_model, heads, layers):
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.context_length = context
                self.token_embedding = torch.nn.Embedding(vocab, d_model)
                self.position_embedding = torch.nn.Embedding(context, d_model)
                layer = torch.nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, 0.0, batch_first=True,
                                                         norm_first=True)
                self.encoder = torch.nn.TransformerEncoder(layer, layers, norm=torch.nn.LayerNorm(d_model),
                                                           enable_nested_tensor=False)
                self.head = torch.nn.Linear(d_model, vocab)

            def forward(self, ids):
                steps = ids.shape[1]
                h = self.token_embedding(ids) + self.position_embedding(torch.arange(steps))
                mask = torch.nn.Transformer.generate_square_subsequent_mask(steps)
                return self.head(self.encoder(h, mask=mask, is_causal=True))

        return Net()


class _TorchGenerate:
    """PyTorch's generation loop: the last context characters in, softmax(logits / T) over the top k, one draw."""

    def __init__(self, model, prompt, temperature, top_k):
        import torch

        self.model, self.prompt, self.temperature, self.top_k = model.eval(), list(prompt), temperature, top_k
        self.generator = torch.Generator().manual_seed(0)

    def __call__(self, n: int) -> list:
        import torch

        ids, window = list(self.prompt), self.model.context_length
        with torch.no_grad():
            for _ in range(n):
                logits = self.model(torch.tensor([ids[-window:]]))[:, -1] / self.temperature
                values, _ = torch.topk(logits, self.top_k)
                logits = logits.masked_fill(logits < values[:, -1:], float("-inf"))
                probs = torch.softmax(logits, dim=-1)
                ids.append(int(torch.multinomial(probs, 1, generator=self.generator).item()))
        return ids


def generation(settings: Settings, peers: list) -> Comparison:
    import lamina
    from lamina import datasets
    from lamina.training import TransformerLanguageModel, generate

    corpus = datasets.load_corpus("grammar", context_length=64, n_chars=5000)
    vocab, context, d_model, heads, layers = corpus.vocab_size, 64, 64, 4, 2
    lamina.manual_seed(0)
    ours = TransformerLanguageModel(vocab, context, d_model, heads, layers)
    tokens = 5 if settings.quick else 100  # from a 1-character prompt: the context grows to 64, then slides
    prompt = "T"

    def lamina_side(n: int) -> None:
        for _ in range(n):
            generate(ours, corpus.tokenizer, prompt, tokens, temperature=1.0, top_k=10,
                     generator=lamina.Generator().manual_seed(0))

    sides = {"lamina": lamina_side}
    if "torch" in peers:
        import torch

        theirs = _TorchCharTransformer.make(vocab, context, d_model, heads, layers)
        theirs.load_state_dict({k: torch.from_numpy(np.array(v.detach().numpy())) for k, v in
                                ours.state_dict().items()})
        loop = _TorchGenerate(theirs, corpus.tokenizer.encode(prompt), 1.0, 10)
        sides["torch"] = lambda n: [loop(tokens) for _ in range(n)]
    rounds = 1 if settings.quick else 2
    seconds = interleave(sides, rounds, settings.repeats, 1)
    return Comparison(key="i_generate", title=f"character Transformer generation (d_model {d_model}, {heads} heads, "
                                              f"{layers} layers, context {context}): {tokens} characters, top-k 10",
                      unit="tokens/s", values={k: [rounds * tokens / s for s in v] for k, v in seconds.items()},
                      targets={"torch": Target(">=", 1.0)},
                      notes=[f"Both sides hold the same weights; {rounds} generations of {tokens} characters from a "
                             "1-character prompt per side per round (each step rereads the last 64 characters: "
                             "no key/value cache on either side), eval mode, no gradient recording."])


def run(settings: Settings, peers: list, only: str = "i") -> list:
    if "i" not in only:
        return []
    return [lstm(settings, peers), bigru(settings, peers), transformer(settings, peers),
            generation(settings, peers)]
