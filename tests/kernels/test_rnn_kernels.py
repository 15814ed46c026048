"""The compiled recurrent loops (lamina/kernels/rnn.py) against the NumPy loops of lamina/ops/rnn.py: outputs,
final states and every gradient over packed batches, both directions, with and without biases; which sizes take
them (a large LSTM takes the per-step kernels, its backward's bit for bit); and the switch."""

import numpy as np
import pytest

import lamina
from lamina import kernels
from lamina.ops import rnn as _rnn

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

rng = np.random.default_rng(0)
BATCH_SIZES = np.array([4, 4, 3, 3, 1], dtype=np.int64)  # a packed batch: sequences of lengths 5, 4, 4, 2


def _inputs(kind, hidden, bias, batch_sizes=BATCH_SIZES, features=3):
    gates = {"LSTM": 4, "GRU": 3}[kind] * hidden
    batch = int(batch_sizes[0])
    arrays = [rng.standard_normal((int(batch_sizes.sum()), features)), rng.standard_normal((batch, hidden))]
    if kind == "LSTM":
        arrays.append(rng.standard_normal((batch, hidden)))
    arrays += [rng.standard_normal((gates, features)) * 0.5, rng.standard_normal((gates, hidden)) * 0.5]
    arrays += [rng.standard_normal(gates) * 0.5, rng.standard_normal(gates) * 0.5] if bias else [None, None]
    return [None if a is None else a.astype(np.float32) for a in arrays]


def _run(kind, arrays, reverse, batch_sizes=BATCH_SIZES):
    """The op's result and the gradients of every input under a fixed random weighting of the result."""
    leaves = [None if a is None else lamina.tensor(a, requires_grad=True) for a in arrays]
    out = getattr(_rnn, kind).apply(*leaves, batch_sizes=batch_sizes, reverse=reverse)
    weights = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    (out * lamina.tensor(weights)).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy() for t in leaves if t is not None]


@pytest.fixture
def calls(monkeypatch):
    """Counts each recurrent kernel's calls (the kernels are looked up on the module at every use)."""
    counts = {}
    for name in ("lstm_forward", "lstm_backward", "lstm_step", "lstm_gate_grads", "gru_forward", "gru_backward"):
        kernel = getattr(kernels, name)

        def counted(*args, _kernel=kernel, _name=name):
            counts[_name] = counts.get(_name, 0) + 1
            return _kernel(*args)

        monkeypatch.setattr(kernels, name, counted)
    return counts


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_compiled_loop_equals_the_numpy_loop(kind, reverse, bias, calls):
    arrays = _inputs(kind, 5, bias)
    fused = _run(kind, arrays, reverse)
    assert calls == {f"{kind.lower()}_forward": 1, f"{kind.lower()}_backward": 1}
    with kernels.set_enabled(False):
        reference = _run(kind, arrays, reverse)
    assert calls == {f"{kind.lower()}_forward": 1, f"{kind.lower()}_backward": 1}  # the switch: no more calls
    for ours, theirs in zip(fused, reference):
        np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=2e-6)  # exp, tanh and the BLAS round apart


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_large_steps_take_the_numpy_loop(kind, calls):
    gates = {"LSTM": 4, "GRU": 3}[kind]
    hidden = kernels.RNN_GATES // (gates * 8) + 1  # batch 8: just over RNN_GATES gate values per step
    _run(kind, _inputs(kind, hidden, True, np.array([8, 8], dtype=np.int64)), False, np.array([8, 8], dtype=np.int64))
    assert calls == ({"lstm_step": 2, "lstm_gate_grads": 2} if kind == "LSTM" else {})  # a large LSTM: per step
    calls.clear()
    hidden = kernels.RNN_GATES // (gates * 8)
    _run(kind, _inputs(kind, hidden, True, np.array([8, 8], dtype=np.int64)), False, np.array([8, 8], dtype=np.int64))
    assert calls == {f"{kind.lower()}_forward": 1, f"{kind.lower()}_backward": 1}


@pytest.mark.parametrize("reverse", [False, True])
def test_a_large_lstm_takes_the_step_kernels(reverse, calls):
    sizes = np.array([8, 8, 5, 2], dtype=np.int64)
    arrays = _inputs("LSTM", kernels.RNN_GATES // 32 + 1, True, sizes)
    fused = _run("LSTM", arrays, reverse, sizes)
    assert calls == {"lstm_step": 4, "lstm_gate_grads": 4}
    with kernels.set_enabled(False):
        reference = _run("LSTM", arrays, reverse, sizes)
    for ours, theirs in zip(fused, reference):
        scale = np.abs(theirs).max()  # exp and tanh round apart; the sums over 516 gates carry it on
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("reverse", [False, True])
def test_a_large_lstm_backward_step_kernel_is_bit_identical(reverse, calls):
    sizes = np.array([8, 8, 5, 2], dtype=np.int64)
    arrays = _inputs("LSTM", kernels.RNN_GATES // 32 + 1, True, sizes)
    results = []
    for enabled in (True, False):  # the forward in NumPy both times, so that the backward starts from the same
        leaves = [lamina.tensor(a, requires_grad=True) for a in arrays]
        with kernels.set_enabled(False):
            out = _rnn.LSTM.apply(*leaves, batch_sizes=sizes, reverse=reverse)
        weights = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
        with kernels.set_enabled(enabled):
            (out * lamina.tensor(weights)).sum().backward()
        results.append([t.grad.numpy() for t in leaves])
    assert calls == {"lstm_gate_grads": 4}
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)  # arithmetic only, in the same order


def test_float64_and_projections_take_the_numpy_loop(calls):
    arrays = [None if a is None else a.astype(np.float64) for a in _inputs("GRU", 4, True)]
    _run("GRU", arrays, False)
    lstm = _inputs("LSTM", 5, True)
    lstm[1] = lstm[1][:, :2]  # h0 of proj_size 2
    lstm[4] = lstm[4][:, :2]  # W_hh reads h: (4H, proj_size)
    _run("LSTM", lstm + [rng.standard_normal((2, 5)).astype(np.float32)], False)
    assert calls == {}


def test_a_bidirectional_two_layer_gru_trains_the_same_with_and_without_kernels():
    x = rng.standard_normal((6, 7, 2)).astype(np.float32)
    results = []
    for enabled in (True, False):
        lamina.manual_seed(0)
        model = lamina.nn.GRU(2, 6, num_layers=2, bidirectional=True, batch_first=True)
        opt = lamina.optim.Adam(model.parameters(), lr=0.01)
        with kernels.set_enabled(enabled):
            for _ in range(5):
                out, h_n = model(lamina.tensor(x))
                loss = (out * out).mean() + (h_n * h_n).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        results.append([p.detach().numpy().copy() for p in model.parameters()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
