"""Small character (or token) language models built from lamina's layers, and their loss.

Both take ids of shape (batch, time) and return logits of shape (batch, time, vocab_size): the logits at
position t score the token at t + 1, so training pairs them with ``datasets.CharWindows`` (target='sequence')
and ``next_token_loss``.

- ``RNNLanguageModel``: Embedding → RNN, LSTM or GRU (batch_first) → Linear. ``step(ids, state)`` also returns
  the recurrent state, so generation feeds one token at a time.
- ``TransformerLanguageModel``: a decoder-only Transformer: token and learned position embeddings →
  ``nn.TransformerEncoder`` (pre-norm) with a causal mask, so position t attends to positions ≤ t only →
  LayerNorm → Linear. It sees at most ``context_length`` tokens; ``attention_weights`` returns what each head
  looks at.
"""

from __future__ import annotations

import numpy as np

from lamina import nn
from lamina.autograd.grad_mode import no_grad
from lamina.nn import functional as F
from lamina.tensor import Tensor, from_numpy

RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def next_token_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats per token) of logits (batch, time, vocab) against targets (batch, time), or of
    logits (batch, vocab) against targets (batch,)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


next_token_loss.target_kind = "class"  # for fit's (X, y) conversion: targets are class indices


class RNNLanguageModel(nn.Module):
    """Embedding(vocab_size, embedding_dim) → ``mode`` ('rnn', 'lstm', 'gru') with hidden_size and num_layers →
    Linear(hidden_size, vocab_size)."""

    def __init__(self, vocab_size: int, embedding_dim: int = 32, hidden_size: int = 128, num_layers: int = 1,
                 mode: str = "lstm", dropout: float = 0.0):
        super().__init__()
        if mode not in RECURRENT:
            raise ValueError(f"RNNLanguageModel: mode must be one of {', '.join(RECURRENT)}, got {mode!r}")
        self.vocab_size, self.mode = vocab_size, mode
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = RECURRENT[mode](embedding_dim, hidden_size, num_layers, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def step(self, ids: Tensor, state=None):
        """(logits, state) for ids (batch, time) continuing from ``state`` (None: zeros); the state is h_n, or
        (h_n, c_n) for an LSTM, as the recurrent layer returns it."""
        output, state = self.rnn(self.embedding(ids), state)
        return self.head(output), state

    def forward(self, ids: Tensor) -> Tensor:
        return self.step(ids)[0]


class TransformerLanguageModel(nn.Module):
    """A decoder-only Transformer over at most ``context_length`` tokens: num_layers pre-norm layers of
    d_model features and nhead heads, each attending only to earlier positions (a causal mask)."""

    def __init__(self, vocab_size: int, context_length: int, d_model: int = 64, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.context_length = vocab_size, context_length
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(context_length, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward or 4 * d_model, dropout,
                                           activation="relu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab_size)
        for embedding in (self.token_embedding, self.position_embedding):
            nn.init.normal_(embedding.weight, std=0.02)  # GPT-2's scale; N(0, 1) rows would drown the positions

    def _embed(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        if ids.ndim != 2:
            raise ValueError(f"TransformerLanguageModel: expected ids of shape (batch, time), got {tuple(ids.shape)}")
        steps = ids.shape[1]
        if steps > self.context_length:
            raise ValueError(f"TransformerLanguageModel: {steps} positions is more than context_length="
                             f"{self.context_length}; pass the last {self.context_length} tokens")
        positions = from_numpy(np.arange(steps, dtype=np.int64))
        mask = nn.Transformer.generate_square_subsequent_mask(steps)
        return self.token_embedding(ids) + self.position_embedding(positions), mask

    def forward(self, ids: Tensor) -> Tensor:
        h, mask = self._embed(ids)
        return self.head(self.encoder(h, mask=mask, is_causal=True))

    def attention_weights(self, ids: Tensor) -> list[np.ndarray]:
        """Each layer's attention weights for ids (batch, time): arrays (batch, nhead, time, time), row t the
        weights position t gives to positions 0..t (the causal mask keeps later ones at zero)."""
        weights = []
        with no_grad():
            h, mask = self._embed(ids)
            for layer in self.encoder.layers:
                x = layer.norm1(h)  # pre-norm: the attention reads the normalised input
                _, w = layer.self_attn(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
                weights.append(w.numpy())
                h = layer(h, src_mask=mask, is_causal=True)
        return weights
