"""Per-channel layers of CNNs: GroupNorm and BatchNorm2d against torch, Dropout1d/Dropout2d's channel masks."""

import warnings

import numpy as np
import pytest
from conv_parity import check_layer, close

import lamina
from lamina import nn
from lamina.nn import functional as F

torch = pytest.importorskip("torch")
rng = np.random.default_rng(2)


def randn(*shape):
    return (rng.standard_normal(shape) * 3 + 1).astype(np.float32)


@pytest.mark.parametrize("groups,channels,shape", [(2, 6, (3, 6, 4, 5)), (1, 4, (2, 4, 3)), (6, 6, (2, 6, 3, 3)),
                                                   (2, 6, (4, 6))])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(groups, channels, shape, affine):
    ours, theirs = nn.GroupNorm(groups, channels, affine=affine), torch.nn.GroupNorm(groups, channels, affine=affine)
    if affine:  # not the default ones and zeros, so that γ and β matter
        ours.weight.array[...] = randn(channels)
        ours.bias.array[...] = randn(channels)
    check_layer(ours, theirs, randn(*shape), torch)
    assert repr(ours) == repr(theirs)
    no_bias = nn.GroupNorm(groups, channels, bias=False)
    check_layer(no_bias, torch.nn.GroupNorm(groups, channels, bias=False), randn(*shape), torch)
    assert list(no_bias.state_dict()) == ["weight"]


def test_group_norm_errors():
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(nn.LayerInputError, match=r"^model\.1 \(GroupNorm\(2, 6, .*\)\): expected input with 6 chan"):
        nn.Sequential(nn.Identity(), nn.GroupNorm(2, 6))(lamina.randn(2, 4, 3))
    with pytest.raises(nn.LayerInputError, match="divisible by num_groups=4"):
        F.group_norm(lamina.randn(2, 6, 3), 4)


def test_batch_norm2d_matches_torch_in_training_and_eval():
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    x = randn(4, 3, 5, 6)
    check_layer(ours, theirs, x, torch)
    close(ours.running_mean.numpy(), theirs.running_mean)
    close(ours.running_var.numpy(), theirs.running_var)
    ours.eval(), theirs.eval()
    check_layer(ours, theirs, randn(2, 3, 4, 4), torch)


@pytest.mark.parametrize("layer,shape", [(nn.Dropout2d, (8, 16, 5, 5)), (nn.Dropout1d, (8, 16, 7)),
                                         (nn.Dropout1d, (16, 7))])
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest(layer, shape):
    lamina.manual_seed(0)
    drop = layer(p=0.25)
    x = lamina.tensor(np.ones(shape, np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for the ranks PyTorch takes without one
        y = drop(x)
    per_channel = y.detach().numpy().reshape(int(np.prod(shape[:len(shape) - (2 if len(shape) == 4 else 1)])), -1)
    assert set(np.unique(per_channel)) <= {0.0, np.float32(1 / 0.75)}
    assert (per_channel.min(axis=1) == per_channel.max(axis=1)).all()  # each channel kept or dropped whole
    assert 0.05 < (per_channel[:, 0] == 0).mean() < 0.5
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # dy/dx = the mask
    drop.eval()
    assert drop(x) is x
    assert repr(drop) == repr(getattr(torch.nn, layer.__name__)(p=0.25))


def test_dropout2d_on_3d_input_warns_as_torch_and_drops_channels_of_n_c_l():
    x = lamina.tensor(np.ones((4, 8, 6), np.float32))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        y = F.dropout2d(x, 0.5)
    assert (y.numpy().min(axis=2) == y.numpy().max(axis=2)).all()
    with pytest.raises(nn.LayerInputError, match=r"dropout1d: expected 2D \(unbatched\) or 3D \(batched\) input"):
        F.dropout1d(lamina.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout2d(lamina.randn(2, 3, 4, 5), 1.5)
