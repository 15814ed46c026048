"""Dropout: inverted scaling, eval identity, seeded masks, gradients through the same mask."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.autograd import gradcheck
from lamina.nn import functional as F


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_zeroes_a_fraction_p_and_scales_survivors(p):
    lamina.manual_seed(0)
    x = lamina.ones(200, 500, requires_grad=True)
    y = nn.Dropout(p)(x)
    out = y.detach().numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)  # survivors scaled by 1/(1 − p)
    # 100000 Bernoulli draws: the dropped fraction is within 4 standard deviations of p
    assert abs((~kept).mean() - p) < 4 * np.sqrt(p * (1 - p) / out.size)
    assert abs(out.mean() - 1) < 4 * np.sqrt(p / (1 - p) / out.size)  # expectation preserved
    y.backward(lamina.ones(200, 500) * 2)
    np.testing.assert_allclose(x.grad.numpy(), 2 * out)  # the gradient goes through the same mask


def test_eval_mode_and_p_zero_are_identity_and_p_one_gives_zeros():
    x = lamina.randn(4, 6, requires_grad=True)
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    y = nn.Dropout(1.0)(x)
    assert np.all(y.detach().numpy() == 0)
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0)


def test_same_seed_same_mask():
    x = lamina.ones(50, 50)
    lamina.manual_seed(3)
    a = nn.Dropout(0.5)(x).numpy()
    b = nn.Dropout(0.5)(x).numpy()
    lamina.manual_seed(3)
    c = nn.Dropout(0.5)(x).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    g1, g2 = lamina.Generator().manual_seed(1), lamina.Generator().manual_seed(1)
    np.testing.assert_array_equal(F.dropout(x, 0.3, generator=g1).numpy(), F.dropout(x, 0.3, generator=g2).numpy())


def test_gradcheck_with_a_fixed_mask():
    x = lamina.randn(3, 5, requires_grad=True)
    assert gradcheck(lambda t: F.dropout(t, 0.4, generator=lamina.Generator().manual_seed(0)), [x])


def test_structure_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Dropout(0.25)(torch.ones(1000)).numpy()
    ours = nn.Dropout(0.25)(lamina.ones(1000)).numpy()
    assert set(np.unique(ours).tolist()) == set(np.unique(theirs).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert ours.dtype == theirs.dtype == np.float32


def test_bad_probability():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(lamina.ones(2), -0.1)
