"""Max, average and adaptive pooling (1-D, 2-D), Upsample / F.interpolate against torch: outputs, input gradients
and indices over a grid of options, ties in max pooling, reprs."""

import numpy as np
import pytest
from conv_parity import check_layer, close

import lamina
from lamina import nn
from lamina.nn import functional as F

torch = pytest.importorskip("torch")
rng = np.random.default_rng(1)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


MAX2D = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (3, 2), "stride": (1, 2), "dilation": (2, 1)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True, "return_indices": True},
    {"kernel_size": 3, "dilation": 2, "padding": 1, "return_indices": True},
]


@pytest.mark.parametrize("opts", MAX2D, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 6, 5)])
def test_max_pool2d_matches_torch(opts, shape):
    ours, theirs = nn.MaxPool2d(**opts), torch.nn.MaxPool2d(**opts)
    check_layer(ours, theirs, randn(*shape), torch)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("opts", [{"kernel_size": 3}, {"kernel_size": 2, "stride": 1, "padding": 1},
                                  {"kernel_size": 3, "stride": 2, "dilation": 2, "ceil_mode": True},
                                  {"kernel_size": 4, "stride": 3, "padding": 2, "return_indices": True}], ids=str)
def test_max_pool1d_matches_torch(opts):
    check_layer(nn.MaxPool1d(**opts), torch.nn.MaxPool1d(**opts), randn(2, 3, 11), torch)


def test_ties_send_the_gradient_to_the_first_maximum():
    x = np.array([[[[1, 1, 0, 2], [1, 1, 2, 2], [3, 0, 3, 3], [0, 0, 3, 3]]]], np.float32)
    for opts in [{"kernel_size": 2}, {"kernel_size": 2, "stride": 1}, {"kernel_size": 3, "stride": 1, "padding": 1}]:
        check_layer(nn.MaxPool2d(return_indices=True, **opts), torch.nn.MaxPool2d(return_indices=True, **opts), x,
                    torch)
    xl = lamina.tensor(x, requires_grad=True)
    F.max_pool2d(xl, 2).sum().backward()
    np.testing.assert_array_equal(xl.grad.numpy()[0, 0], [[1, 0, 0, 1], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    check_layer(nn.AdaptiveMaxPool2d(3, return_indices=True), torch.nn.AdaptiveMaxPool2d(3, return_indices=True), x,
                torch)


AVG2D = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 2, "divisor_override": 3},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "divisor_override": 5},
]


@pytest.mark.parametrize("opts", AVG2D, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (2, 6, 5)])
def test_avg_pool2d_matches_torch(opts, shape):
    ours, theirs = nn.AvgPool2d(**opts), torch.nn.AvgPool2d(**opts)
    check_layer(ours, theirs, randn(*shape), torch)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("opts", [{"kernel_size": 3}, {"kernel_size": 4, "stride": 3, "padding": 2},
                                  {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                                   "count_include_pad": False}], ids=str)
def test_avg_pool1d_matches_torch(opts):
    ours, theirs = nn.AvgPool1d(**opts), torch.nn.AvgPool1d(**opts)
    check_layer(ours, theirs, randn(2, 3, 10), torch)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("out", [1, 3, (2, 5), (None, 4), (7, 9)], ids=str)
def test_adaptive_pool2d_matches_torch(out):
    x = randn(2, 3, 7, 6)  # 7 -> 3 and 6 -> 4, 5, 9 give uneven, overlapping windows; 6 -> 9 repeats inputs
    check_layer(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x, torch)
    check_layer(nn.AdaptiveMaxPool2d(out, return_indices=True), torch.nn.AdaptiveMaxPool2d(out, return_indices=True),
                x, torch)
    check_layer(nn.AdaptiveMaxPool2d(out), torch.nn.AdaptiveMaxPool2d(out), x[0], torch)  # unbatched


@pytest.mark.parametrize("out", [1, 4, 7, 13])
def test_adaptive_pool1d_matches_torch(out):
    x = randn(2, 3, 10)
    check_layer(nn.AdaptiveAvgPool1d(out), torch.nn.AdaptiveAvgPool1d(out), x, torch)
    check_layer(nn.AdaptiveMaxPool1d(out, return_indices=True), torch.nn.AdaptiveMaxPool1d(out, return_indices=True),
                x, torch)
    assert repr(nn.AdaptiveMaxPool1d(out)) == repr(torch.nn.AdaptiveMaxPool1d(out))


UPSAMPLE = [
    ({"scale_factor": 2}, (2, 3, 4, 5)),
    ({"size": (7, 3)}, (2, 3, 4, 5)),
    ({"scale_factor": 1.7, "mode": "nearest-exact"}, (1, 2, 5, 4)),
    ({"scale_factor": 2, "mode": "bilinear"}, (2, 3, 4, 5)),
    ({"size": (3, 8), "mode": "bilinear", "align_corners": True}, (1, 2, 5, 4)),
    ({"scale_factor": (0.6, 1.5), "mode": "bilinear", "align_corners": False}, (1, 2, 5, 4)),
    ({"scale_factor": 3, "mode": "linear"}, (2, 3, 5)),
    ({"size": 9, "mode": "linear", "align_corners": True}, (2, 3, 5)),
    ({"scale_factor": 2.5, "mode": "nearest"}, (2, 3, 5)),
    ({"scale_factor": 1.3, "mode": "bilinear", "recompute_scale_factor": True}, (1, 1, 6, 5)),
]


@pytest.mark.parametrize("opts,shape", UPSAMPLE, ids=[str(u[0]) for u in UPSAMPLE])
def test_upsample_matches_torch(opts, shape):
    ours, theirs = nn.Upsample(**opts), torch.nn.Upsample(**opts)
    check_layer(ours, theirs, randn(*shape), torch)
    assert repr(ours) == repr(theirs)


def test_functional_max_pool_with_indices_and_unbatched_input():
    x = randn(3, 7, 6)
    y, idx = F.max_pool2d(lamina.tensor(x), 3, 2, 1, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.from_numpy(x), 3, 2, 1, return_indices=True)
    close(y.numpy(), yt)
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    assert idx.dtype == np.int64
    close(F.avg_pool2d(lamina.tensor(x), (2, 3)).numpy(), torch.nn.functional.avg_pool2d(torch.from_numpy(x), (2, 3)))


def test_pooling_errors_name_the_layer():
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.AvgPool2d(4))
    with pytest.raises(nn.LayerInputError, match=r"^model\.1 \(AvgPool2d\(kernel_size=4, stride=4, padding=0\)\): "
                                                 r"input of spatial size \(3, 8\) is too small"):
        model(lamina.randn(1, 1, 3, 8))
    with pytest.raises(nn.LayerInputError, match=r"^model\.0 \(MaxPool1d\(.*\)\): expected 2D \(unbatched\) or 3D "
                                                 r"\(batched\) input"):
        nn.Sequential(nn.MaxPool1d(2))(lamina.randn(1, 1, 4, 4))
    with pytest.raises(nn.LayerInputError, match="pad should be at most half of kernel size"):
        F.avg_pool1d(lamina.randn(1, 1, 5), 2, padding=2)
    with pytest.raises(nn.LayerInputError, match=r"^interpolate: mode 'bilinear' got input of shape \(1, 2, 3\)"):
        F.interpolate(lamina.randn(1, 2, 3), scale_factor=2, mode="bilinear")
