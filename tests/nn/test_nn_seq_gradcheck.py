"""Finite differences (float64, no torch) for the sequence layers' hand-written backwards: embedding lookups,
bags, and each recurrent Function over packed batches in both directions."""

import numpy as np
import pytest

import lamina
from lamina.autograd import gradcheck
from lamina.nn import functional as F
from lamina.ops import rnn as _rnn

rng = np.random.default_rng(1)


def t(*shape):
    return lamina.tensor(rng.standard_normal(shape), requires_grad=True)  # float64


def test_embedding_gradcheck_with_repeated_indices():
    """Narrow rows (bincount) and wide rows (sort + reduceat); padding_idx and scale_grad_by_freq change the
    gradient on purpose, so they are checked against torch instead."""
    idx = lamina.tensor([[0, 3, 3], [2, 0, 0]])
    assert gradcheck(lambda w: F.embedding(idx, w), [t(4, 3)])
    assert gradcheck(lambda w: F.embedding(idx, w), [t(4, 12)])


def test_embedding_bag_gradcheck():
    idx, offsets = lamina.tensor([1, 1, 3, 0, 2]), lamina.tensor([0, 2, 2])
    assert gradcheck(lambda w: F.embedding_bag(idx, w, offsets, mode="mean"), [t(4, 3)])
    assert gradcheck(lambda w, s: F.embedding_bag(idx, w, offsets, mode="sum", per_sample_weights=s),
                     [t(4, 3), t(5)])


BATCH_SIZES = np.array([3, 3, 2, 1])  # a packed batch of lengths 4, 3, 2


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_function_gradcheck(reverse, nonlinearity):
    def fn(x, h0, w_ih, w_hh, b_ih, b_hh):
        return _rnn.RNN.apply(x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes=BATCH_SIZES, reverse=reverse,
                              nonlinearity=nonlinearity)

    assert gradcheck(fn, [t(9, 2), t(3, 3), t(3, 2), t(3, 3), t(3), t(3)])


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_function_gradcheck(reverse):
    def fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        return _rnn.LSTM.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, batch_sizes=BATCH_SIZES, reverse=reverse)

    assert gradcheck(fn, [t(9, 2), t(3, 3), t(3, 3), t(12, 2), t(12, 3), t(12), t(12)])


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_function_gradcheck(reverse):
    def fn(x, h0, w_ih, w_hh, b_ih, b_hh):
        return _rnn.GRU.apply(x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes=BATCH_SIZES, reverse=reverse)

    assert gradcheck(fn, [t(9, 2), t(3, 3), t(9, 2), t(9, 3), t(9), t(9)])


def test_recurrent_functions_without_bias_gradcheck():
    def fn(x, h0, w_ih, w_hh):
        return _rnn.GRU.apply(x, h0, w_ih, w_hh, None, None, batch_sizes=BATCH_SIZES, reverse=False)

    assert gradcheck(fn, [t(9, 2), t(3, 3), t(9, 2), t(9, 3)])


def test_attention_gradcheck_with_masks():
    mask = lamina.tensor(np.array([[True, False, True], [False, False, True]]))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask), [t(2, 2, 4), t(2, 3, 4),
                                                                                     t(2, 3, 5)])
    dead = lamina.tensor(np.array([[True, True, True], [False, False, False]]))  # query 1 attends nowhere: zeros
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dead), [t(2, 4), t(3, 4), t(3, 2)])


def test_multi_head_attention_gradcheck():
    kpm = lamina.tensor(np.array([[False, False, True], [False, False, False]]))

    def fn(q, kv, w_in, b_in, w_out, b_out):
        return F.multi_head_attention_forward(q, kv, kv, 4, 2, w_in, b_in, None, None, False, 0.0, w_out, b_out,
                                              key_padding_mask=kpm)[0]

    assert gradcheck(fn, [t(2, 2, 4), t(3, 2, 4), t(12, 4), t(12), t(4, 4), t(4)])
