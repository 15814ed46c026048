"""The sequence datasets: lamina's grammar corpus, the character tokenizer, windows, sines and the order task."""

import hashlib
import re

import numpy as np
import pytest

import lamina
from lamina import datasets
from lamina.data import DataLoader
from lamina.datasets.text import CharTokenizer, CharWindows, unigram_loss


def test_grammar_corpus_is_the_same_everywhere():
    text = datasets.grammar_text()
    # pinned: a change to the grammar or to NumPy's stream shows up here (and changes the documented losses)
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "f97fd9b989b2fed805f535e08bbd883620e1547ab599caff970a361676549016"
    assert text.startswith("The clever mice hear the cat beside a cat, while this brave mouse sings in the morning.")
    assert len(text) >= 100_000 and text.endswith("\n")
    assert datasets.grammar_text(5000, seed=1) == datasets.grammar_text(5000, seed=1) != datasets.grammar_text(5000)


def test_grammar_sentences_agree_and_are_well_formed():
    text = datasets.grammar_text(20_000)
    sentences = re.findall(r"[A-Z][^.]*\.", text)
    assert len(sentences) > 100 and set(text) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,.\n")
    # the verb agrees with the subject, also across a relative clause: "the cat that sees the dogs runs"
    from lamina.datasets.text import INTRANSITIVE, NOUNS, TRANSITIVE

    number = {form: k for pair in NOUNS for k, form in enumerate(pair)}
    verbs = {form: k for pair in TRANSITIVE + INTRANSITIVE for k, form in enumerate(pair)}
    checked = 0
    for sentence in sentences:
        words = re.findall(r"[a-z]+", sentence.lower())
        subject = next(w for w in words if w in number)
        after = words[words.index(subject) + 1]
        if after in verbs:  # the subject's own verb follows it
            assert number[subject] == verbs[after], sentence
            checked += 1
    assert checked > 100
    assert " a old " not in text and " an old " in text


def test_tokenizer_round_trip_unknowns_and_errors():
    tok = CharTokenizer.from_text("hello world")
    assert tok.vocab == ["\ufffd", " ", "d", "e", "h", "l", "o", "r", "w"] and len(tok) == tok.vocab_size == 9
    ids = tok.encode("hello")
    assert ids == [4, 3, 5, 5, 6] and tok.decode(ids) == "hello"
    assert tok.decode(lamina.tensor(ids)) == tok.decode(np.array(ids)) == "hello"
    assert tok.encode("hey!") == [4, 3, 0, 0] and tok.unk_id == 0
    assert tok.decode(tok.encode("hey!")) == "he\ufffd\ufffd"
    assert tok.encode("") == [] and tok.decode([]) == ""
    strict = CharTokenizer.from_text("abc", unk_token=None)
    assert strict.encode("cab") == [2, 0, 1] and strict.unk_id is None
    with pytest.raises(ValueError, match="character 'z' at position 1 is not in the vocabulary of 3"):
        strict.encode("az")
    with pytest.raises(ValueError, match="id 9 is out of range for a vocabulary of 9"):
        tok.decode([1, 9])
    with pytest.raises(ValueError, match="repeated"):
        CharTokenizer(["a", "a"])
    assert CharTokenizer.from_dict(tok.to_dict()).vocab == tok.vocab
    assert CharTokenizer.from_text("héllo ✓").decode(CharTokenizer.from_text("héllo ✓").encode("✓é")) == "✓é"


def test_windows_are_shifted_views_and_batch_through_a_dataloader():
    ids = np.arange(10)
    seq = CharWindows(ids, context_length=4)
    assert len(seq) == 6
    x, y = seq[2]
    assert x.tolist() == [2, 3, 4, 5] and y.tolist() == [3, 4, 5, 6]
    nxt = CharWindows(ids, context_length=4, target="next", stride=3)
    assert len(nxt) == 2 and nxt[1][0].tolist() == [3, 4, 5, 6] and nxt[1][1].item() == 7
    xb, yb = next(iter(DataLoader(seq, batch_size=4)))
    assert xb.shape == yb.shape == (4, 4) and xb.dtype == lamina.int64
    with pytest.raises(ValueError, match="too few for one window"):
        CharWindows(ids, context_length=10)
    with pytest.raises(ValueError, match="'sequence' or 'next'"):
        CharWindows(ids, 4, target="all")


def test_load_corpus_split_and_unigram_baseline():
    corpus = datasets.load_corpus(context_length=16, n_chars=20_000)
    assert corpus.vocab_size == len(corpus.tokenizer) and corpus.tokenizer.vocab[0] == "\ufffd"
    n_train, n_val = corpus.train.ids.size, corpus.val.ids.size
    assert n_train + n_val == len(corpus.text) and 0.08 < n_val / len(corpus.text) < 0.12
    assert corpus.tokenizer.decode(corpus.val.ids[:5]) == corpus.text[n_train:n_train + 5]
    assert corpus.text[n_train - 1] == "\n"  # the split falls at a paragraph's start
    # the baseline is the cross-entropy of the validation characters under the training frequencies
    counts = np.bincount(corpus.train.ids, minlength=corpus.vocab_size) + 1.0
    expected = -np.mean(np.log(counts / counts.sum())[corpus.val.ids])
    assert corpus.unigram_loss == pytest.approx(expected) and 2.8 < corpus.unigram_loss < 3.1
    assert unigram_loss([0, 0, 1], [1], 2) == pytest.approx(-np.log(2 / 5))
    own = datasets.load_corpus(text="abcab\n" * 50, context_length=4, name="mine")
    assert own.name == "mine" and own.vocab_size == 5
    with pytest.raises(ValueError, match="unknown corpus 'poems'"):
        datasets.load_corpus("poems")


def test_sines_windows_and_noise():
    X, y = datasets.sines(n_samples=50, window=30, horizon=3, noise=0.0, seed=2)
    assert X.shape == (50, 30, 1) and y.shape == (50, 3) and X.dtype == y.dtype == lamina.float32
    series = datasets.sine_waves(50, 33, noise=0.0, seed=2).numpy()
    np.testing.assert_array_equal(X.numpy()[:, :, 0], series[:, :30])
    np.testing.assert_array_equal(y.numpy(), series[:, 30:])
    assert np.abs(series).max() <= 1.0  # three sines of amplitude at most 1/3
    noisy = datasets.sine_waves(2000, 40, noise=0.1, seed=2).numpy() - datasets.sine_waves(2000, 40, noise=0.0,
                                                                                            seed=2).numpy()
    assert noisy.std() != 0  # different draws after the same clean part: just check the noise is there
    with pytest.raises(ValueError, match="window and horizon must be positive"):
        datasets.sines(window=0)


def test_order_task_needs_the_order():
    X, y = datasets.order_task(n_samples=4000, length=12, vocab_size=6, seed=0)
    x = X.numpy()
    assert X.shape == (4000, 12) and X.dtype == y.dtype == lamina.int64
    assert np.all((x == 1).sum(1) == 1) and np.all((x == 2).sum(1) == 1) and x.min() >= 1 and x.max() <= 5
    first_a = np.argmax(x == 1, axis=1) < np.argmax(x == 2, axis=1)
    np.testing.assert_array_equal(y.numpy(), first_a.astype(np.int64))
    assert 0.45 < y.numpy().mean() < 0.55
    # the token counts say nothing: a linear model on them stays at chance
    from sklearn.linear_model import LogisticRegression

    counts = np.stack([np.bincount(row, minlength=6) for row in x])
    assert LogisticRegression().fit(counts[:3000], y.numpy()[:3000]).score(counts[3000:], y.numpy()[3000:]) < 0.58
