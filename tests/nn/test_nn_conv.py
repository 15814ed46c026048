"""Conv1d/2d, ConvTranspose1d/2d, Unfold/Fold and F.pad's modes against torch: outputs and every gradient over a
grid of options; default initialisation, reprs, state_dicts of a small CNN, and the errors that name the layer."""

import math

import numpy as np
import pytest
from conv_parity import check_layer, close, copy_params

import lamina
from lamina import nn
from lamina.nn import functional as F

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


CONV2D = [  # (in, out, kernel, options, input size)
    (3, 4, 3, {}, (7, 6)),
    (3, 4, (3, 2), {"stride": 2, "padding": 1}, (9, 8)),
    (4, 6, 3, {"stride": (2, 1), "padding": (2, 0), "dilation": (1, 2)}, (8, 9)),
    (4, 6, 3, {"groups": 2, "bias": False}, (6, 5)),
    (4, 4, 3, {"groups": 4, "padding": 1}, (5, 5)),  # depthwise
    (2, 8, (1, 3), {"groups": 2, "dilation": 2, "stride": 3}, (7, 11)),
    (3, 5, 4, {"padding": "same"}, (6, 7)),  # even kernel: the odd extra padding goes to the high side
    (3, 5, 3, {"padding": "same", "dilation": 2}, (8, 8)),
    (3, 5, 2, {"padding": "valid"}, (5, 4)),
    (2, 3, 3, {"padding": 2, "padding_mode": "reflect"}, (5, 6)),
    (2, 3, (3, 2), {"padding": (1, 2), "padding_mode": "replicate", "stride": 2}, (5, 6)),
    (2, 3, 3, {"padding": 1, "padding_mode": "circular", "dilation": 2}, (5, 6)),
    (2, 3, 4, {"padding": "same", "padding_mode": "reflect"}, (6, 5)),
    (1, 2, 5, {}, (5, 5)),  # the kernel covers the whole input
]


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("cin,cout,k,opts,size", CONV2D, ids=[str(c[3]) + str(c[2]) for c in CONV2D])
def test_conv2d_matches_torch(cin, cout, k, opts, size):
    check_layer(nn.Conv2d(cin, cout, k, **opts), torch.nn.Conv2d(cin, cout, k, **opts), randn(2, cin, *size), torch)


CONV1D = [
    (3, 4, 3, {}, 9),
    (2, 4, 5, {"stride": 2, "padding": 2, "dilation": 2}, 15),
    (4, 4, 3, {"groups": 4, "bias": False}, 8),
    (3, 2, 4, {"padding": "same"}, 7),
    (2, 3, 3, {"padding": 2, "padding_mode": "reflect", "stride": 2}, 6),
    (2, 3, 3, {"padding": 1, "padding_mode": "circular"}, 4),
    (2, 3, 3, {"padding": 3, "padding_mode": "replicate"}, 4),
]


@pytest.mark.parametrize("cin,cout,k,opts,size", CONV1D, ids=[str(c[3]) for c in CONV1D])
def test_conv1d_matches_torch(cin, cout, k, opts, size):
    check_layer(nn.Conv1d(cin, cout, k, **opts), torch.nn.Conv1d(cin, cout, k, **opts), randn(3, cin, size), torch)


def test_unbatched_input():
    check_layer(nn.Conv2d(3, 2, 3, padding=1), torch.nn.Conv2d(3, 2, 3, padding=1), randn(3, 5, 4), torch)
    check_layer(nn.Conv1d(3, 2, 3), torch.nn.Conv1d(3, 2, 3), randn(3, 5), torch)
    check_layer(nn.ConvTranspose2d(3, 2, 3, stride=2), torch.nn.ConvTranspose2d(3, 2, 3, stride=2), randn(3, 3, 4),
                torch)


TRANSPOSED = [  # (in, out, kernel, options, input size)
    (3, 4, 3, {}, (4, 5)),
    (3, 4, (3, 2), {"stride": 2, "padding": 1, "output_padding": 1}, (4, 3)),
    (4, 6, 3, {"stride": (3, 2), "padding": (2, 0), "output_padding": (2, 1), "groups": 2}, (3, 4)),
    (4, 4, 3, {"groups": 4, "dilation": 2, "bias": False}, (3, 3)),
    (2, 3, 2, {"stride": 2, "dilation": 3, "output_padding": 2}, (3, 3)),  # output_padding < dilation
    (2, 3, 1, {"stride": 3, "output_padding": 2}, (2, 3)),  # output_padding beyond the last written column
]


@pytest.mark.parametrize("cin,cout,k,opts,size", TRANSPOSED, ids=[str(c[3]) for c in TRANSPOSED])
def test_conv_transpose2d_matches_torch(cin, cout, k, opts, size):
    check_layer(nn.ConvTranspose2d(cin, cout, k, **opts), torch.nn.ConvTranspose2d(cin, cout, k, **opts),
                randn(2, cin, *size), torch)


@pytest.mark.parametrize("opts", [{}, {"stride": 3, "padding": 1, "output_padding": 2, "groups": 2},
                                  {"dilation": 2, "bias": False}])
def test_conv_transpose1d_matches_torch(opts):
    check_layer(nn.ConvTranspose1d(4, 2, 3, **opts), torch.nn.ConvTranspose1d(4, 2, 3, **opts), randn(2, 4, 5), torch)


def test_conv_transpose_output_size_picks_the_output_padding():
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(2, 3, 3, stride=2,
                                                                                              padding=1)
    copy_params(ours, theirs, torch)
    x = randn(1, 2, 4, 4)
    for size in [(7, 7), (8, 7), [1, 3, 8, 8]]:
        y = ours(lamina.tensor(x), output_size=size)
        close(y.detach().numpy(), theirs(torch.from_numpy(x), output_size=size))
    with pytest.raises(ValueError, match=r"requested an output size of \(9, 9\), but valid sizes range from "
                                         r"\(7, 7\) to \(8, 8\)"):
        ours(lamina.tensor(x), output_size=(9, 9))


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x), y> = <x, conv_transpose(y)> with the same weight."""
    x, w, y = randn(2, 3, 9, 8), randn(4, 3, 3, 2), randn(2, 4, 5, 5)
    lhs = float((F.conv2d(lamina.tensor(x), lamina.tensor(w), stride=2, padding=1).numpy() * y).sum())
    back = F.conv_transpose2d(lamina.tensor(y), lamina.tensor(w), stride=2, padding=1)
    assert back.shape == x.shape
    assert math.isclose(lhs, float((x * back.numpy()).sum()), rel_tol=1e-5)


def test_functional_forms_with_every_option():
    x, w, b = randn(2, 4, 7, 6), randn(6, 2, 3, 2), randn(6)
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
    lx, lw, lb = (lamina.tensor(a) for a in (x, w, b))
    for kw in [{}, {"stride": 2, "padding": (1, 0), "dilation": (2, 1)}, {"padding": "same"}, {"padding": "valid"}]:
        close(F.conv2d(lx, lw, lb, groups=2, **kw).numpy(), torch.nn.functional.conv2d(tx, tw, tb, groups=2, **kw))
    wt = randn(4, 3, 2, 2)  # transposed: (in, out/groups, kh, kw)
    close(F.conv_transpose2d(lx, lamina.tensor(wt), None, 2, 1, 1, 2, 1).numpy(),
          torch.nn.functional.conv_transpose2d(tx, torch.from_numpy(wt), None, 2, 1, 1, 2, 1))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 0, 1, 3), (0, 1, 3, 0)])
def test_pad_modes_match_torch_with_gradients(mode, pad):
    x = randn(2, 3, 4, 5) if len(pad) == 4 or mode == "constant" else randn(3, 4, 5)  # torch: 2 dims of 4-D input
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yl, yt = F.pad(xl, pad, mode=mode), torch.nn.functional.pad(xt, pad, mode=mode)
    close(yl.detach().numpy(), yt)
    g = randn(*yt.shape)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    close(xl.grad.numpy(), xt.grad)


@pytest.mark.parametrize("opts", [{"kernel_size": 3}, {"kernel_size": (2, 3), "stride": 2, "padding": 1},
                                  {"kernel_size": 2, "dilation": (2, 1), "stride": (1, 3)}])
def test_unfold_and_fold_match_torch(opts):
    x = randn(2, 3, 7, 8)
    ours, theirs = nn.Unfold(**opts), torch.nn.Unfold(**opts)
    cols = check_layer(ours, theirs, x, torch)
    check_layer(nn.Fold((7, 8), **opts), torch.nn.Fold((7, 8), **opts), cols.detach().numpy(), torch)
    assert repr(ours) == repr(theirs)


def test_unfold_then_matmul_is_conv2d():
    x, w = randn(2, 3, 6, 5), randn(4, 3, 3, 3)
    cols = F.unfold(lamina.tensor(x), 3, padding=1)  # (N, C·9, L)
    y = (lamina.tensor(w.reshape(4, -1)) @ cols).reshape(2, 4, 6, 5)
    close(y.numpy(), F.conv2d(lamina.tensor(x), lamina.tensor(w), padding=1).numpy())


def test_one_graph_node_per_convolution():
    layer = nn.Conv2d(3, 4, 3, padding=1)
    y = layer(lamina.randn(2, 3, 5, 5, requires_grad=True))
    assert y.grad_fn.name == "ConvolutionBackward0"
    assert {type(p).__name__ for p in y.grad_fn.parents} >= {"Tensor", "Parameter"}
    assert nn.ConvTranspose2d(3, 4, 3)(lamina.randn(1, 3, 4, 4)).grad_fn.name == "ConvolutionBackward0"


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(3, 16, 3), lambda m: m.Conv2d(8, 4, (3, 5), stride=2, padding=(1, 2), groups=2, bias=False),
    lambda m: m.Conv2d(4, 4, 3, padding="same", dilation=2, groups=4, padding_mode="reflect"),
    lambda m: m.Conv1d(3, 6, 5, padding="valid"), lambda m: m.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1),
    lambda m: m.ConvTranspose1d(4, 2, 3, groups=2, dilation=2), lambda m: m.Fold(4, 2),
])
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("make,fan_in", [(lambda: nn.Conv2d(16, 32, 3), 16 * 9),
                                         (lambda: nn.Conv2d(16, 32, (3, 5), groups=4), 4 * 15),
                                         (lambda: nn.Conv1d(8, 64, 7), 8 * 7),
                                         (lambda: nn.ConvTranspose2d(16, 32, 3, groups=2), 16 * 9)])
def test_default_init_bounds_are_torch(make, fan_in):
    lamina.manual_seed(3)
    layer = make()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=√5) gives exactly 1/√fan_in
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.1
    assert np.abs(b).max() <= bound and b.std() > 0.3 * bound
    theirs = {"Conv2d": torch.nn.Conv2d, "Conv1d": torch.nn.Conv1d, "ConvTranspose2d": torch.nn.ConvTranspose2d}
    assert tuple(layer.weight.shape) == tuple(theirs[type(layer).__name__](
        layer.in_channels, layer.out_channels, layer.kernel_size, groups=layer.groups).weight.shape)


def small_cnn(m):
    return m.Sequential(
        m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(4, 6, 3, groups=2, padding_mode="reflect", padding=1), m.GroupNorm(3, 6), m.ReLU(),
        m.AvgPool2d(2, ceil_mode=True), m.ConvTranspose2d(6, 3, 2, stride=2), m.AdaptiveMaxPool2d((2, 3)),
        m.Flatten(), m.Linear(18, 5))


def test_state_dict_of_a_cnn_loads_into_torch_and_back():
    lamina.manual_seed(0)
    ours, theirs = small_cnn(nn), small_cnn(torch.nn)
    x = randn(3, 1, 9, 9)
    ours(lamina.tensor(x))  # one training step's batch statistics, so the running stats are not the defaults
    sd = ours.state_dict()
    assert list(sd) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v.numpy())) for k, v in sd.items()})
    ours.eval(), theirs.eval()
    close(ours(lamina.tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)))
    back = small_cnn(nn)
    back.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    back.eval()
    np.testing.assert_array_equal(back(lamina.tensor(x)).detach().numpy(), ours(lamina.tensor(x)).detach().numpy())


def message(model, x):
    with pytest.raises(nn.LayerInputError) as err:
        model(x)
    return str(err.value)


def test_errors_name_the_layer():
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.MaxPool2d(2))
    assert message(model, lamina.randn(2, 1, 8, 8)) == (
        "model.0 (Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1))): expected 3 input channels, got 1 "
        "(input of shape (2, 1, 8, 8))")
    assert message(model, lamina.randn(2, 3, 2, 8)) == (
        "model.0 (Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1))): input of spatial size (2, 8) (padded: (2, 8)) "
        "is smaller than the kernel (3, 3)")
    assert message(model, lamina.randn(2, 3, 3, 3)).startswith(
        "model.2 (MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)): input of spatial size "
        "(1, 1) is too small for kernel_size=(2, 2)")
    assert message(model, lamina.randn(3, 8, 8, 1, 1)).startswith("model.0 (Conv2d(3, 16, ")
    assert "expected 3D (unbatched) or 4D (batched) input, got shape (3, 8, 8, 1, 1)" in message(
        model, lamina.randn(3, 8, 8, 1, 1))
    dilated = nn.Sequential(nn.Identity(), nn.Conv1d(2, 2, 3, dilation=3))
    assert message(dilated, lamina.randn(1, 2, 6)).endswith("is smaller than the dilated kernel (7,)")
    pool = nn.Sequential(nn.MaxPool2d(3, padding=2))
    assert message(pool, lamina.randn(1, 1, 8, 8)).endswith(
        "pad should be at most half of kernel size, but got padding=(2, 2) and kernel_size=(3, 3)")
    up = nn.Sequential(nn.ConvTranspose1d(2, 2, 1, padding=1))
    assert message(up, lamina.randn(1, 2, 1)).startswith("model.0 (ConvTranspose1d(2, 2, kernel_size=(1,), stride=(1,)"
                                                         ", padding=(1,))): output size (-1,) is below 1")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    reflect = nn.Sequential(nn.Conv2d(1, 1, 3, padding=4, padding_mode="reflect"))
    assert message(reflect, lamina.randn(1, 1, 3, 3)).startswith("model.0 (Conv2d(1, 1, ")
    with pytest.raises(nn.LayerInputError, match=r"^conv2d: expected 3 input channels, got 2"):
        F.conv2d(lamina.randn(1, 2, 5, 5), lamina.randn(4, 3, 3, 3))
    x64 = lamina.tensor(np.zeros((1, 3, 5, 5)))
    assert "expected input of dtype float32 (the layer's), got float64" in message(nn.Conv2d(3, 1, 3), x64)
    assert nn.Conv2d(3, 1, 3).double()(x64).dtype == np.float64
