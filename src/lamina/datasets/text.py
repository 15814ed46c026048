"""Character-level text: a corpus lamina generates itself, a character tokenizer, and (context, next character)
windows for training a language model.

The corpus. ``grammar_text`` writes English-like sentences from a small grammar defined in this file, so the
text is lamina's own (no licence to track), nothing is downloaded, and a given seed gives the same text on every
machine (NumPy's PCG64 stream; a test pins the default corpus's SHA-256). The grammar has structure a model can
learn at several ranges: spelling inside words, which word class follows which, subject-verb agreement (``the
cat that sees the dogs runs``: the verb agrees with ``cat``, several words back), capitals after a full stop, and
paragraphs of a few sentences. Its entropy is far below that of the character frequencies alone, so a
character model's validation loss ends well below the unigram baseline (see ``load_corpus``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lamina.data.dataset import TensorDataset
from lamina.tensor import Tensor, as_array, from_numpy

# -- the grammar ------------------------------------------------------------------------------------------------
# nouns and verbs as (singular, plural) pairs: a verb agrees with its subject's number
NOUNS = [("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("fox", "foxes"), ("child", "children"),
         ("robot", "robots"), ("teacher", "teachers"), ("farmer", "farmers"), ("river", "rivers"),
         ("mouse", "mice")]
TRANSITIVE = [("sees", "see"), ("follows", "follow"), ("likes", "like"), ("finds", "find"), ("chases", "chase"),
              ("watches", "watch"), ("helps", "help"), ("hears", "hear")]
INTRANSITIVE = [("sleeps", "sleep"), ("runs", "run"), ("sings", "sing"), ("waits", "wait"), ("laughs", "laugh"),
                ("swims", "swim")]
DETERMINERS = (["the", "a", "every", "this", "one"], ["the", "some", "many", "these", "two", "three"])
ADJECTIVES = ["small", "red", "quiet", "old", "bright", "happy", "green", "tired", "clever", "brave"]
ADVERBS = ["quickly", "slowly", "today", "again", "at night", "in the morning", "together"]
PREPOSITIONS = ["near", "behind", "with", "under", "beside"]
CONJUNCTIONS = ["and", "but", "while", "because"]


class _Grammar:
    """Sentence → NP[n] VP[n] (", " Conj NP[m] VP[m])? "."; NP[n] → Det[n] Adj? N[n] (RelClause[n] | PP)?;
    RelClause[n] → "that" VP[n]; VP[n] → Vt[n] NP | Vi[n] Adv?; PP → Prep NP. Number n is singular or plural."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, options):
        return options[int(self.rng.random() * len(options))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def noun_phrase(self, plural: bool, depth: int) -> str:
        words = [self.pick(DETERMINERS[plural])]
        if self.chance(0.4):
            words.append(self.pick(ADJECTIVES))
        words.append(self.pick(NOUNS)[plural])
        if words[0] == "a" and words[1][0] in "aeiou":
            words[0] = "an"
        if depth < 2 and self.chance(0.25):
            words += ["that", self.verb_phrase(plural, depth + 1)]
        elif depth < 2 and self.chance(0.2):
            words += [self.pick(PREPOSITIONS), self.noun_phrase(self.chance(0.5), depth + 1)]
        return " ".join(words)

    def verb_phrase(self, plural: bool, depth: int) -> str:
        if self.chance(0.6):
            return f"{self.pick(TRANSITIVE)[plural]} {self.noun_phrase(self.chance(0.5), depth + 1)}"
        words = [self.pick(INTRANSITIVE)[plural]]
        if self.chance(0.5):
            words.append(self.pick(ADVERBS))
        return " ".join(words)

    def clause(self) -> str:
        plural = self.chance(0.5)
        return f"{self.noun_phrase(plural, 0)} {self.verb_phrase(plural, 0)}"

    def sentence(self) -> str:
        text = self.clause()
        if self.chance(0.3):
            text += f", {self.pick(CONJUNCTIONS)} {self.clause()}"
        return text[0].upper() + text[1:] + "."


def grammar_text(n_chars: int = 100_000, seed: int = 0) -> str:
    """At least ``n_chars`` characters of text from lamina's grammar (whole paragraphs of 2 to 5 sentences, one
    paragraph per line). The same seed gives the same text everywhere."""
    if n_chars < 1:
        raise ValueError(f"grammar_text: n_chars must be at least 1, got {n_chars}")
    grammar = _Grammar(np.random.default_rng(seed))
    paragraphs, total = [], 0
    while total < n_chars:
        paragraph = " ".join(grammar.sentence() for _ in range(2 + int(grammar.rng.random() * 4))) + "\n"
        paragraphs.append(paragraph)
        total += len(paragraph)
    return "".join(paragraphs)


# -- the tokenizer ----------------------------------------------------------------------------------------------
UNK = "\ufffd"  # the Unicode replacement character: what an unknown character becomes


class CharTokenizer:
    """Characters to integer ids and back. ``vocab[i]`` is the character of id i.

    With ``unk_token`` (default U+FFFD, the replacement character) id 0 stands for every character outside the
    vocabulary; with ``unk_token=None`` encoding an unknown character raises, naming it and its position.
    """

    def __init__(self, chars: Sequence[str], unk_token: str | None = UNK):
        chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer: the vocabulary must be single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: the vocabulary has repeated characters")
        if unk_token is not None:
            if not isinstance(unk_token, str) or len(unk_token) != 1:
                raise ValueError(f"CharTokenizer: unk_token must be one character or None, got {unk_token!r}")
            chars = [unk_token] + [c for c in chars if c != unk_token]
        if not chars:
            raise ValueError("CharTokenizer: the vocabulary is empty")
        self.vocab, self.unk_token = chars, unk_token
        self.stoi = {c: i for i, c in enumerate(chars)}
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._order = np.argsort(codes)  # code points sorted, for one searchsorted per encode
        self._codes = codes[self._order]

    @classmethod
    def from_text(cls, text: str, unk_token: str | None = UNK) -> CharTokenizer:
        """The characters of ``text``, in code-point order (after the unknown token)."""
        return cls(sorted(set(text)), unk_token)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def unk_id(self) -> int | None:
        return None if self.unk_token is None else 0

    def encode_array(self, text: str) -> np.ndarray:
        """The ids of ``text`` as an int64 array (all characters looked up at once)."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        pos = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        known = self._codes[pos] == codes
        if not known.all() and self.unk_token is None:
            i = int(np.argmin(known))
            raise ValueError(f"CharTokenizer: character {text[i]!r} at position {i} is not in the vocabulary of "
                             f"{len(self.vocab)} characters (pass unk_token to map unknown characters to one id)")
        return np.where(known, self._order[pos], 0).astype(np.int64)

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``; characters outside the vocabulary become ``unk_id``."""
        return self.encode_array(text).tolist()

    def decode(self, ids) -> str:
        """The text of ``ids`` (a list, an array or a 1-D Tensor of integers)."""
        ids = np.asarray(as_array(ids) if isinstance(ids, Tensor) else ids)
        if ids.size == 0:
            return ""
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise ValueError(f"CharTokenizer.decode: expected a 1-D sequence of integer ids, got shape {ids.shape} "
                             f"of dtype {ids.dtype}")
        bad = (ids < 0) | (ids >= len(self.vocab))
        if bad.any():
            raise ValueError(f"CharTokenizer.decode: id {int(ids[bad][0])} is out of range for a vocabulary of "
                             f"{len(self.vocab)} characters")
        return "".join(np.asarray(self.vocab, dtype=object)[ids])

    def to_dict(self) -> dict:
        """A JSON-friendly description (it fits in a lamina.save checkpoint); ``from_dict`` rebuilds it."""
        return {"vocab": self.vocab[1:] if self.unk_token is not None else list(self.vocab),
                "unk_token": self.unk_token}

    @classmethod
    def from_dict(cls, state: dict) -> CharTokenizer:
        return cls(state["vocab"], state["unk_token"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={len(self.vocab)}, unk_token={self.unk_token!r})"


# -- windows ------------------------------------------------------------------------------------------------------
class CharWindows(TensorDataset):
    """Every window of ``context_length`` ids (starting ``stride`` apart) and what follows it: with
    ``target='sequence'`` (x, y) = (ids[i : i+L], ids[i+1 : i+L+1]), the next id at every position (how a
    language model trains); with ``target='next'``, y = ids[i+L], the one next id.

    ``x`` and ``y`` are read-only views into one array of ids (no copy per window), and a DataLoader gathers a
    batch with one fancy index, as for any TensorDataset.
    """

    def __init__(self, ids, context_length: int, target: str = "sequence", stride: int = 1):
        ids = np.ascontiguousarray(as_array(ids), dtype=np.int64).reshape(-1)
        if target not in ("sequence", "next"):
            raise ValueError(f"CharWindows: target must be 'sequence' or 'next', got {target!r}")
        if context_length < 1 or stride < 1:
            raise ValueError(f"CharWindows: context_length and stride must be positive, got {context_length} and "
                             f"{stride}")
        if ids.size < context_length + 1:
            raise ValueError(f"CharWindows: {ids.size} ids are too few for one window of context_length="
                             f"{context_length} plus its next id")
        windows = np.lib.stride_tricks.sliding_window_view(ids, context_length + 1)[::stride]
        y = windows[:, 1:] if target == "sequence" else windows[:, -1]
        super().__init__(from_numpy(windows[:, :-1]), from_numpy(y))
        self.ids, self.context_length, self.target, self.stride = ids, context_length, target, stride


@dataclass(frozen=True)
class TextCorpus:
    """A character corpus split for training a language model: the text, its tokenizer (built from the training
    part), (context, next character) windows of each part, and the unigram baseline: the validation cross-entropy
    (nats per character) of predicting every character by its frequency in the training part, which is what a
    model that ignores the context can reach."""

    name: str
    text: str
    tokenizer: CharTokenizer
    train: CharWindows
    val: CharWindows
    unigram_loss: float

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size


CORPORA = ("grammar",)


def unigram_loss(train_ids, val_ids, vocab_size: int) -> float:
    """Cross-entropy (nats) of val_ids under the training frequencies, add-one smoothed (no id gets zero)."""
    counts = np.bincount(np.asarray(train_ids), minlength=vocab_size) + 1.0
    return float(-np.mean(np.log(counts / counts.sum())[np.asarray(val_ids)]))


def load_corpus(name: str = "grammar", context_length: int = 64, val_fraction: float = 0.1, target: str = "sequence",
                stride: int = 1, n_chars: int = 100_000, seed: int = 0, text: str | None = None) -> TextCorpus:
    """A character corpus split into training and validation windows.

    ``name='grammar'`` is ``grammar_text(n_chars, seed)``; or pass your own ``text`` (``name`` then only labels
    it). The last ``val_fraction`` of the characters (from a line start where there is one) is the validation
    part, so no validation window overlaps a training one. The tokenizer knows the training characters; others
    in the validation part become its unknown id.
    """
    if text is None:
        if name not in CORPORA:
            raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}, or pass text=")
        text = grammar_text(n_chars, seed)
    if not 0 < val_fraction < 1:
        raise ValueError(f"load_corpus: val_fraction must be between 0 and 1, got {val_fraction}")
    cut = int(len(text) * (1 - val_fraction))
    line_start = text.find("\n", cut) + 1
    if 0 < line_start < len(text) - context_length:
        cut = line_start
    tokenizer = CharTokenizer.from_text(text[:cut])
    train_ids, val_ids = tokenizer.encode_array(text[:cut]), tokenizer.encode_array(text[cut:])
    for part, ids in (("training", train_ids), ("validation", val_ids)):
        if ids.size < context_length + 1:
            raise ValueError(f"load_corpus: the {part} part has {ids.size} characters, too few for context_length="
                             f"{context_length}; use more text or a shorter context")
    return TextCorpus(name, text, tokenizer, CharWindows(train_ids, context_length, target, stride),
                      CharWindows(val_ids, context_length, target, stride),
                      unigram_loss(train_ids, val_ids, tokenizer.vocab_size))
