"""LSTM with proj_size against torch: parameter names and shapes (weight_hr_l{k}), outputs and every gradient
(input, h0 of proj_size, c0 of hidden_size, all weights) over layers, directions, batch_first, bias, given and
default states, unbatched input and packed sequences; gradcheck of the op in float64; the checks and errors
torch gives."""

import numpy as np
import pytest
from test_nn_rnn import backprop, close, compare_grads, flat, leaf, make

import lamina
from lamina import nn
from lamina.autograd import gradcheck
from lamina.nn.utils import rnn as rnn_utils
from lamina.ops import rnn as _rnn

torch = pytest.importorskip("torch")
rng = np.random.default_rng(1)
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,given",
                         [(1, False, False, True, False), (2, True, False, True, True), (2, False, True, False, True),
                          (3, True, True, True, False)])
def test_lstm_with_projection_matches_torch(num_layers, bidirectional, batch_first, bias, given):
    ours, theirs = make("LSTM", 3, 7, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                        bias=bias, proj_size=4)
    d = 2 if bidirectional else 1
    assert ours.weight_hr_l0.shape == (4, 7) and ours.weight_hh_l0.shape == (28, 4)
    if num_layers > 1:
        assert ours.weight_ih_l1.shape == (28, 4 * d)
    steps, batch = 5, 3
    x = rng.standard_normal((batch, steps, 3) if batch_first else (steps, batch, 3)).astype(np.float32)
    leaves = [leaf(x)]
    args, targs = [leaves[0][0]], [leaves[0][1]]
    if given:
        h0 = leaf(rng.standard_normal((num_layers * d, batch, 4)).astype(np.float32))
        c0 = leaf(rng.standard_normal((num_layers * d, batch, 7)).astype(np.float32))
        leaves += [h0, c0]
        args.append((h0[0], c0[0]))
        targs.append((h0[1], c0[1]))
    out, tout = flat(ours(*args)), flat(theirs(*targs))
    assert [o.shape for o in out] == [tuple(t.shape) for t in tout]
    assert out[0].shape[-1] == 4 * d and out[1].shape[-1] == 4 and out[2].shape[-1] == 7
    for o, t in zip(out, tout):
        close(o.detach().numpy(), t)
    backprop(out, tout)
    compare_grads(ours, theirs, leaves, msg=f"proj layers={num_layers} bi={bidirectional}")


def test_unbatched_and_packed_input_with_projection_match_torch():
    ours, theirs = make("LSTM", 2, 6, bidirectional=True, proj_size=3)
    x = leaf(rng.standard_normal((5, 2)).astype(np.float32))
    out, tout = flat(ours(x[0])), flat(theirs(x[1]))
    for o, t in zip(out, tout):
        assert o.shape == tuple(t.shape)
        close(o.detach().numpy(), t)
    backprop(out, tout)
    compare_grads(ours, theirs, [x], msg="unbatched")

    ours, theirs = make("LSTM", 2, 6, num_layers=2, bidirectional=True, proj_size=3)
    padded = leaf(rng.standard_normal((4, 3, 2)).astype(np.float32))
    lengths = [2, 4, 3]
    packed = rnn_utils.pack_padded_sequence(padded[0], lengths, enforce_sorted=False)
    tpacked = torch.nn.utils.rnn.pack_padded_sequence(padded[1], lengths, enforce_sorted=False)
    output, (h_n, c_n) = ours(packed)
    toutput, (th_n, tc_n) = theirs(tpacked)
    close(output.data.detach().numpy(), toutput.data)
    out, tout = [output.data, h_n, c_n], [toutput.data, th_n, tc_n]
    for o, t in zip(out, tout):
        close(o.detach().numpy(), t)
    backprop(out, tout)
    compare_grads(ours, theirs, [padded], msg="packed")


def test_projection_state_dict_init_repr_and_errors():
    lamina.manual_seed(0)
    layer = nn.LSTM(3, 8, num_layers=2, proj_size=5, bidirectional=True)
    theirs = torch.nn.LSTM(3, 8, num_layers=2, proj_size=5, bidirectional=True)
    assert [(k, tuple(v.shape)) for k, v in layer.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in layer.state_dict().items()})
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    close(layer(lamina.tensor(x))[0].detach().numpy(), theirs(torch.from_numpy(x))[0])
    bound = 1 / np.sqrt(8)
    assert all(np.abs(p.detach().numpy()).max() <= bound for p in layer.parameters())
    assert repr(layer) == repr(theirs)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match=r"expected hidden state of shape \(4, 2, 5\), got \(4, 2, 8\)"):
        layer(lamina.tensor(x), (lamina.zeros(4, 2, 8), lamina.zeros(4, 2, 8)))
    with pytest.raises(ValueError, match=r"expected cell state of shape \(4, 2, 8\), got \(4, 2, 5\)"):
        layer(lamina.tensor(x), (lamina.zeros(4, 2, 5), lamina.zeros(4, 2, 5)))


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_function_with_projection_gradcheck(reverse):
    def fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        return _rnn.LSTM.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, batch_sizes=np.array([3, 3, 2, 1]),
                               reverse=reverse)

    shapes = [(9, 2), (3, 2), (3, 3), (12, 2), (12, 2), (12,), (12,), (2, 3)]
    assert gradcheck(fn, [lamina.tensor(rng.standard_normal(s), dtype=lamina.float64, requires_grad=True)
                          for s in shapes])
