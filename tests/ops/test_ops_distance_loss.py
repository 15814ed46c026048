"""The norm behind the distances and the further losses: gradients against finite differences in float64
(gradcheck), every option and reduction. Needs no torch (tests/nn/test_nn_loss_more compares with torch)."""

import math

import numpy as np
import pytest

import lamina
from lamina.autograd import gradcheck
from lamina.nn import functional as F

rng = np.random.default_rng(5)


def t(*shape, low=None, high=None):
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return lamina.tensor(a, requires_grad=True)


@pytest.mark.parametrize("p", [2, 1, 3, 1.5, 0.5, math.inf])
def test_distances_gradcheck(p):
    assert gradcheck(lambda x: F.normalize(x, p=p, dim=1), [t(3, 4)])
    assert gradcheck(lambda x, y: F.pairwise_distance(x, y, p), [t(3, 4), t(3, 4)])
    assert gradcheck(lambda x, y: F.cosine_similarity(x, y, dim=0), [t(3, 4), t(1, 4)])


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # kl_div's, as torch's
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_gradcheck(reduction):
    x, y = t(3, 4), t(3, 4)
    assert gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.7), [x, y])
    logp = lamina.tensor(np.log(rng.dirichlet(np.ones(4), 3)), requires_grad=True)
    q = t(3, 4, low=0.1, high=0.9)
    for r in (reduction, "batchmean"):
        assert gradcheck(lambda a, b, r=r: F.kl_div(a, b, reduction=r), [logp, q])
        assert gradcheck(lambda a, b, r=r: F.kl_div(a, b, reduction=r, log_target=True), [logp, y])
    counts = t(3, 4, low=1.5, high=4.0)
    assert gradcheck(lambda a, b: F.poisson_nll_loss(a, b, full=True, reduction=reduction), [x, counts])
    assert gradcheck(lambda a, b: F.poisson_nll_loss(a, b, log_input=False, reduction=reduction),
                     [t(3, 4, low=0.5, high=2.0), counts])
    for var in (t(3, 4, low=0.2, high=2.0), t(3, 1, low=0.2, high=2.0), t(3, low=0.2, high=2.0)):
        assert gradcheck(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True, reduction=reduction), [x, y, var])
    sign = lamina.tensor([1.0, -1.0, 1.0])
    assert gradcheck(lambda a, b: F.cosine_embedding_loss(a, b, sign, margin=-0.5, reduction=reduction), [x, y])
    assert gradcheck(lambda a, b, s: F.margin_ranking_loss(a, b, s, margin=0.1, reduction=reduction),
                     [t(5), t(5), t(5)])
    for swap in (False, True):
        assert gradcheck(lambda a, b, c, swap=swap: F.triplet_margin_loss(a, b, c, 3.0, swap=swap, reduction=reduction),
                         [x, y, t(3, 4)])
    labels = lamina.tensor(rng.integers(0, 2, (3, 4)).astype(np.float64))
    assert gradcheck(lambda a: F.multilabel_soft_margin_loss(a, labels, weight=[0.5, 1, 2, 1], reduction=reduction),
                     [x])
    assert gradcheck(lambda a: F.soft_margin_loss(a, labels * 2 - 1, reduction=reduction), [x])
