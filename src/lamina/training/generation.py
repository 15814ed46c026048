"""Text from a trained language model: sample a token from the model's last logits, append it, repeat.

``sample_next`` is one draw (temperature, top-k, greedy); ``generate`` runs the loop for a model and a tokenizer.
Every draw comes from ``lamina.multinomial`` with the given ``lamina.Generator`` (or lamina's global stream), so
the same seed gives the same text.
"""

from __future__ import annotations

import numpy as np

from lamina.autograd.grad_mode import no_grad
from lamina.ops.sampling import multinomial
from lamina.tensor import Tensor, from_numpy


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: int | None = None, generator=None) -> Tensor:
    """One token id per row of logits (batch, vocab): drawn from softmax(logits / temperature) restricted to the
    ``top_k`` highest logits (None: all). temperature 0 takes the highest logit (greedy); below 1 sharpens the
    distribution, above 1 flattens it. Returns int64 (batch,)."""
    if logits.ndim != 2:
        raise ValueError(f"sample_next: expected logits of shape (batch, vocab), got {tuple(logits.shape)}")
    if temperature < 0:
        raise ValueError(f"sample_next: temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"sample_next: top_k must be a positive integer or None, got {top_k}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits.array.astype(np.float64) / temperature
    if top_k is not None and top_k < scores.shape[-1]:
        kth = np.partition(scores, -top_k, axis=-1)[:, -top_k:][:, :1]  # the k-th highest: topk(...).values[-1]
        scores = np.where(scores < kth, -np.inf, scores)
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return multinomial(from_numpy(probs), 1, generator=generator).reshape(-1)


def generate(model, tokenizer, prompt: str, length: int = 200, temperature: float = 1.0, top_k: int | None = None,
             generator=None, context_length: int | None = None) -> str:
    """The prompt followed by ``length`` generated characters (tokens).

    ``model`` maps ids (1, time) to logits (1, time, vocab). A model with a ``step(ids, state) -> (logits,
    state)`` method (``RNNLanguageModel``) reads the prompt once and then one token per step, carrying its
    state; any other model reads the last ``context_length`` tokens (default: its ``context_length``
    attribute, else all of them) at every step, as a Transformer must. The model runs in eval mode under
    ``no_grad``; its previous mode is restored.
    """
    if not prompt:
        raise ValueError("generate: the prompt must not be empty (it gives the model its first token)")
    if length < 0:
        raise ValueError(f"generate: length must be >= 0, got {length}")
    ids = tokenizer.encode(prompt)
    n_prompt = len(ids)
    window = context_length or getattr(model, "context_length", None)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            if hasattr(model, "step"):
                logits, state = model.step(from_numpy(np.array([ids], dtype=np.int64)), None)
                for _ in range(length):
                    ids.append(int(sample_next(logits[:, -1], temperature, top_k, generator).item()))
                    logits, state = model.step(from_numpy(np.array([[ids[-1]]], dtype=np.int64)), state)
            else:
                for _ in range(length):
                    context = ids[-window:] if window else ids
                    logits = model(from_numpy(np.array([context], dtype=np.int64)))
                    ids.append(int(sample_next(logits[:, -1], temperature, top_k, generator).item()))
    finally:
        model.train(was_training)
    return prompt + tokenizer.decode(ids[n_prompt:])
