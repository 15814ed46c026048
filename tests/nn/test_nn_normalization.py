"""BatchNorm1d/2d and LayerNorm against torch: outputs, gradients, running statistics; gradcheck."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.autograd import gradcheck
from lamina.nn import functional as F

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
TOL = dict(rtol=1e-4, atol=1e-5)


def copy_params(ours, theirs):
    """Random affine parameters, the same in both."""
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            value = rng.uniform(0.5, 1.5, p.shape).astype(np.float32)
            p.array[...] = value
            tp.copy_(torch.from_numpy(value))


def step(ours, theirs, shape, scale=2.0, shift=1.0):
    """One forward/backward through both; compare output and every gradient."""
    x = (rng.standard_normal(shape) * scale + shift).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yl, yt = ours(xl), theirs(xt)
    np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), **TOL)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), **TOL)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), **TOL, err_msg=name)
        p.grad, tp.grad = None, None
    assert yl.dtype == np.float32


def compare_buffers(ours, theirs):
    sd_t = theirs.state_dict()
    for name, b in ours.state_dict().items():
        np.testing.assert_allclose(b.numpy(), sd_t[name].numpy(), **TOL, err_msg=name)
        assert b.dtype == sd_t[name].numpy().dtype, name


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("shape", [(8, 3), (6, 3, 5)])
def test_batchnorm1d_train_and_eval_match_torch_over_several_steps(momentum, shape):
    ours, theirs = nn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
    copy_params(ours, theirs)
    for _ in range(4):
        step(ours, theirs, shape)
        compare_buffers(ours, theirs)  # running_mean, running_var (unbiased), num_batches_tracked
    assert int(ours.num_batches_tracked.item()) == 4
    ours.eval()
    theirs.eval()
    before = ours.running_mean.numpy().copy()
    step(ours, theirs, shape)
    np.testing.assert_array_equal(ours.running_mean.numpy(), before)  # eval leaves the stats alone
    assert int(ours.num_batches_tracked.item()) == 4


@pytest.mark.parametrize("kwargs", [dict(affine=False), dict(bias=False), dict(track_running_stats=False),
                                    dict(eps=1e-2, momentum=0.5)])
def test_batchnorm1d_options_match_torch(kwargs):
    ours, theirs = nn.BatchNorm1d(4, **kwargs), torch.nn.BatchNorm1d(4, **kwargs)
    copy_params(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for _ in range(2):
        step(ours, theirs, (5, 4))
    compare_buffers(ours, theirs)
    ours.eval()
    theirs.eval()
    step(ours, theirs, (5, 4))  # without running stats, eval still normalises with the batch's


def test_batchnorm2d_matches_torch():
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    copy_params(ours, theirs)
    for _ in range(2):
        step(ours, theirs, (4, 3, 2, 5))
    compare_buffers(ours, theirs)
    ours.eval()
    theirs.eval()
    step(ours, theirs, (4, 3, 2, 5))


def test_batchnorm_training_output_is_normalised():
    x = lamina.randn(64, 5) * 3 + 7
    y = nn.BatchNorm1d(5)(x).detach().numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=0), 1, atol=1e-3)  # biased variance 1 (up to eps)


def test_batchnorm_needs_more_than_one_value_per_channel_in_training():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(lamina.randn(1, 3))
    bn.eval()
    assert bn(lamina.randn(1, 3)).shape == (1, 3)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, training):
    x = lamina.tensor(rng.standard_normal(shape) * 2, requires_grad=True)
    w = lamina.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = lamina.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = lamina.tensor(rng.standard_normal(3)), lamina.tensor(rng.uniform(0.5, 2, 3))
    if training:
        fn = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    else:
        fn = lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False)  # noqa: E731
    assert gradcheck(fn, [x, w, b])
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])  # no affine


@pytest.mark.parametrize("normalized_shape,shape", [(5, (4, 5)), ((3, 4), (2, 3, 4)), (4, (2, 3, 4)), (6, (6,))])
@pytest.mark.parametrize("kwargs", [dict(), dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-3)])
def test_layernorm_matches_torch(normalized_shape, shape, kwargs):
    ours, theirs = nn.LayerNorm(normalized_shape, **kwargs), torch.nn.LayerNorm(normalized_shape, **kwargs)
    copy_params(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    step(ours, theirs, shape, scale=3.0, shift=-2.0)


def test_layernorm_gradcheck_and_single_node():
    x = lamina.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = lamina.tensor(rng.uniform(0.5, 1.5, (2, 4)), requires_grad=True)
    b = lamina.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), [x, w, b])
    assert gradcheck(lambda x: F.layer_norm(x, 4), [x])
    assert F.layer_norm(x, (2, 4), w, b).grad_fn.name == "LayerNormBackward0"
    assert nn.BatchNorm1d(2)(lamina.randn(3, 2, requires_grad=True)).grad_fn.name == "BatchNormBackward0"


def test_shape_errors():
    with pytest.raises(ValueError, match=r"expected input with 4 channels in dimension 1, got shape \(8, 3\)"):
        nn.BatchNorm1d(4)(lamina.randn(8, 3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D \(N, C\) or \(N, C, L\) input, got shape \(8,\)"):
        nn.BatchNorm1d(4)(lamina.randn(8))
    with pytest.raises(ValueError, match=r"expected input with trailing shape \(3, 4\), got shape \(2, 4, 3\)"):
        nn.LayerNorm((3, 4))(lamina.randn(2, 4, 3))
    with pytest.raises(ValueError, match="trailing shape"):
        F.layer_norm(lamina.randn(2, 3), 4)
