"""RNN, LSTM, GRU and their cells against torch: outputs and every gradient (input, initial states, all weights)
over layers, directions, batch_first, bias, given and default states, unbatched input and packed sequences;
the fused layers equal a loop of cells; state_dicts move both ways; errors name the layer."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)
RTOL, ATOL = 1e-5, 1e-5


def close(ours, theirs, rtol=RTOL, atol=ATOL, msg=""):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=rtol, atol=atol, err_msg=msg)


def make(kind, *args, **kwargs):
    """The same layer in lamina and torch, torch's weights copied into lamina's through state_dict."""
    theirs = getattr(torch.nn, kind)(*args, **kwargs)
    ours = getattr(nn, kind)(*args, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def leaf(a):
    return lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def compare_grads(ours, theirs, leaves, msg=""):
    for (a, b) in leaves:
        close(a.grad.numpy(), b.grad, msg=msg + " (input/state)")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad.numpy(), q.grad, msg=f"{msg} {name}")


def backprop(outs, touts):
    """Random weights on every output; returns nothing, fills .grad on both sides."""
    total, ttotal = 0, 0
    for o, t in zip(outs, touts):
        w = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        total = total + (o * lamina.tensor(w)).sum()
        ttotal = ttotal + (t * torch.from_numpy(w)).sum()
    total.backward()
    ttotal.backward()


def flat(out):
    """(output, h_n) or (output, (h_n, c_n)) as a list of tensors."""
    output, state = out
    return [output, *state] if isinstance(state, tuple) else [output, state]


@pytest.mark.parametrize("kind,extra", [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,given",
                         [(1, False, False, True, False), (2, True, False, True, True), (2, False, True, False, True),
                          (1, True, True, True, False), (3, True, False, True, True)])
def test_layer_matches_torch(kind, extra, num_layers, bidirectional, batch_first, bias, given):
    ours, theirs = make(kind, 3, 5, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                        bias=bias, **extra)
    steps, batch, d = 6, 4, 2 if bidirectional else 1
    x = rng.standard_normal((batch, steps, 3) if batch_first else (steps, batch, 3)).astype(np.float32)
    leaves = [leaf(x)]
    args, targs = [leaves[0][0]], [leaves[0][1]]
    if given:
        states = [leaf(rng.standard_normal((num_layers * d, batch, 5)).astype(np.float32))
                  for _ in range(2 if kind == "LSTM" else 1)]
        leaves += states
        args.append(tuple(s[0] for s in states) if kind == "LSTM" else states[0][0])
        targs.append(tuple(s[1] for s in states) if kind == "LSTM" else states[0][1])
    out, tout = flat(ours(*args)), flat(theirs(*targs))
    for o, t in zip(out, tout):
        assert o.shape == tuple(t.shape) and o.dtype == np.float32
        close(o.detach().numpy(), t)
    backprop(out, tout)
    compare_grads(ours, theirs, leaves)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_one_graph_node_per_layer_and_direction(kind):
    layer = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True)
    out, _ = layer(lamina.randn(5, 1, 2))
    count = 0
    stack, seen = [out.grad_fn], set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        count += type(fn).__name__ == kind
        stack += [p.grad_fn for p in fn.parents if isinstance(p, lamina.Tensor) and p.grad_fn is not None]
    assert count == 4  # 2 layers x 2 directions


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind):
    ours, theirs = make(kind, 3, 4, num_layers=2, bidirectional=True)
    x, tx = leaf(rng.standard_normal((5, 3)).astype(np.float32))
    h, th = leaf(rng.standard_normal((4, 4)).astype(np.float32))
    hx, thx = ((h, h * 0.5), (th, th * 0.5)) if kind == "LSTM" else (h, th)
    out, tout = flat(ours(x, hx)), flat(theirs(tx, thx))
    for o, t in zip(out, tout):
        assert o.shape == tuple(t.shape)
        close(o.detach().numpy(), t)
    backprop(out, tout)
    compare_grads(ours, theirs, [(x, tx), (h, th)])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [6, 4, 4, 1]), (False, [2, 6, 1, 5])])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sequences_match_torch(kind, enforce_sorted, lengths, batch_first):
    ours, theirs = make(kind, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    shape = (4, 6, 3) if batch_first else (6, 4, 3)
    x, tx = leaf(rng.standard_normal(shape).astype(np.float32))
    h, th = leaf(rng.standard_normal((4, 4, 4)).astype(np.float32))
    hx, thx = ((h, h * 2), (th, th * 2)) if kind == "LSTM" else (h, th)
    packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    tpacked = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first,
                                                      enforce_sorted=enforce_sorted)
    close(packed.data.detach().numpy(), tpacked.data)
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), tpacked.batch_sizes.numpy())
    out, tout = ours(packed, hx), theirs(tpacked, thx)
    assert isinstance(out[0], rnn_utils.PackedSequence)
    padded, lens = rnn_utils.pad_packed_sequence(out[0], batch_first=batch_first)
    tpadded, tlens = torch.nn.utils.rnn.pad_packed_sequence(tout[0], batch_first=batch_first)
    np.testing.assert_array_equal(lens.numpy(), tlens.numpy())
    states, tstates = flat((padded, out[1])), flat((tpadded, tout[1]))
    for o, t in zip(states, tstates):
        close(o.detach().numpy(), t)
    backprop(states, tstates)
    compare_grads(ours, theirs, [(x, tx), (h, th)])


def test_pack_utilities_match_torch():
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (3, 5, 1)]
    ours = [lamina.tensor(s, requires_grad=True) for s in seqs]
    theirs = [torch.tensor(s, requires_grad=True) for s in seqs]
    for batch_first in (False, True):
        for side in ("right", "left"):
            close(rnn_utils.pad_sequence(ours, batch_first, -1.0, side).detach().numpy(),
                  torch.nn.utils.rnn.pad_sequence(theirs, batch_first, -1.0, side))
    packed = rnn_utils.pack_sequence(ours, enforce_sorted=False)
    tpacked = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=False)
    close(packed.data.detach().numpy(), tpacked.data)
    np.testing.assert_array_equal(packed.sorted_indices.numpy(), tpacked.sorted_indices.numpy())
    np.testing.assert_array_equal(packed.unsorted_indices.numpy(), tpacked.unsorted_indices.numpy())
    padded, lengths = rnn_utils.pad_packed_sequence(packed, True, 9.0, total_length=7)
    tpadded, tlengths = torch.nn.utils.rnn.pad_packed_sequence(tpacked, True, 9.0, total_length=7)
    close(padded.detach().numpy(), tpadded)
    np.testing.assert_array_equal(lengths.numpy(), tlengths.numpy())
    for a, b in zip(rnn_utils.unpack_sequence(packed), seqs):
        close(a.detach().numpy(), b)
    backprop([padded], [tpadded])
    for a, b in zip(ours, theirs):
        close(a.grad.numpy(), b.grad)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        rnn_utils.pack_sequence(ours)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(kind, bias):
    extra = {"nonlinearity": "relu"} if kind == "RNNCell" and not bias else {}
    ours, theirs = make(kind, 3, 4, bias=bias, **extra)
    x, tx = leaf(rng.standard_normal((5, 3)).astype(np.float32))
    h, th = leaf(rng.standard_normal((5, 4)).astype(np.float32))
    hx, thx = ((h, h * 3), (th, th * 3)) if kind == "LSTMCell" else (h, th)
    out, tout = ours(x, hx), theirs(tx, thx)
    out, tout = (list(out), list(tout)) if kind == "LSTMCell" else ([out], [tout])
    for o, t in zip(out, tout):
        close(o.detach().numpy(), t)
    backprop(out, tout)
    compare_grads(ours, theirs, [(x, tx), (h, th)])
    for a, b in zip(flat((None, ours(x[0]))) if kind == "LSTMCell" else [ours(x[0])],
                    flat((None, theirs(tx[0]))) if kind == "LSTMCell" else [theirs(tx[0])]):
        if a is not None:
            close(a.detach().numpy(), b)  # unbatched, default state
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_fused_layer_equals_a_loop_of_cells(kind):
    layer = getattr(nn, kind)(3, 4)
    cell = getattr(nn, kind + "Cell")(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # weight_ih_l0 -> weight_ih
    x = lamina.randn(7, 2, 3, requires_grad=True)
    out, _ = layer(x)
    state = None
    steps = []
    for t in range(7):
        state = cell(x[t], state)
        steps.append(state[0] if kind == "LSTM" else state)
    looped = lamina.stack(steps)
    close(out.detach().numpy(), looped.detach().numpy())
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    fused = [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in layer.parameters()]
    x.grad = None
    looped.backward(g)
    for a, b in zip(fused, [x.grad.numpy()] + [p.grad.numpy() for p in cell.parameters()]):
        close(a, b)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_state_dict_both_ways_and_torch_init(kind):
    lamina.manual_seed(0)
    ours = getattr(nn, kind)(3, 8, num_layers=2, bidirectional=True)
    theirs = getattr(torch.nn, kind)(3, 8, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for p in ours.parameters():  # U(-1/sqrt(hidden), 1/sqrt(hidden))
        assert p.dtype == np.float32 and np.abs(p.detach().numpy()).max() <= 1 / np.sqrt(8)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    close(ours(lamina.tensor(x))[0].detach().numpy(), theirs(torch.from_numpy(x))[0])
    assert repr(ours) == repr(theirs)


def test_dropout_between_layers_only_in_training():
    lamina.manual_seed(0)
    layer = nn.LSTM(3, 6, num_layers=2, dropout=0.5)
    x = lamina.randn(5, 2, 3)
    a, b = layer(x)[0].detach().numpy(), layer(x)[0].detach().numpy()
    assert not np.allclose(a, b)
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].detach().numpy(), layer(x)[0].detach().numpy())
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(2, 2, dropout=0.2)


def test_errors_name_the_layer():
    model = nn.Sequential(nn.LSTM(4, 3))
    with pytest.raises(nn.LayerInputError, match=r"^model\.0 \(LSTM\(4, 3\)\): expected input with 4 features in "
                                                 r"the last dimension, got shape \(5, 2, 3\)"):
        model(lamina.randn(5, 2, 3))
    gru = nn.GRU(4, 3, num_layers=2)
    with pytest.raises(nn.LayerInputError, match=r"expected hidden state of shape \(2, 2, 3\), got \(1, 2, 3\)"):
        gru(lamina.randn(5, 2, 4), lamina.randn(1, 2, 3))
    with pytest.raises(nn.LayerInputError, match=r"expected cell state of shape \(1, 2, 3\)"):
        nn.LSTM(4, 3)(lamina.randn(5, 2, 4), (lamina.zeros(1, 2, 3), lamina.zeros(2, 3)))
    with pytest.raises(nn.LayerInputError, match=r"expected hidden state of shape \(2, 3\)"):
        nn.GRUCell(4, 3)(lamina.randn(2, 4), lamina.randn(3, 3))
    with pytest.raises(nn.LayerInputError, match="expected input of 2 dimensions"):
        nn.RNN(4, 3)(lamina.randn(4))


def test_readme_sequence_example_runs(capsys):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = text.index("```python", text.index("### Sequence models")) + len("```python")
    exec(compile(text[start:text.index("```", start)], "README.md", "exec"), {})
    assert capsys.readouterr().out.split("\n")[:2] == ["(3, 7, 64) (4, 3, 32)", "(3, 7, 16)"]
