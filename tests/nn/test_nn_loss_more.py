"""normalize, cosine_similarity, pairwise_distance and the further losses against torch: values and the gradient of
every differentiable input, every reduction and option, edges (zero vectors, ties, targets at 0, exact margins)."""

import warnings

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def normal(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def positive(*shape):
    return rng.uniform(0.1, 3.0, shape).astype(np.float32)


def compare(ours, theirs, arrays, grads=None, tol=1e-5):
    """Run both on the same arrays (float ones require grad unless grads says otherwise); compare the value and
    every input gradient, NaN where torch has NaN."""
    grads = grads or [a.dtype.kind == "f" for a in arrays]
    ls = [lamina.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yl, yt = ours(*ls), theirs(*ts)
    assert yl.shape == tuple(yt.shape) and yl.dtype == np.float32
    np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    g = rng.uniform(0.5, 1.5, yl.shape).astype(np.float32)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    for a, b, need in zip(ls, ts, grads):
        if need:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


# -- distances ---------------------------------------------------------------------------------------------------
def with_zero_rows(*shape):
    x = normal(*shape)
    x[0] = 0  # a zero vector: the norm's gradient is 0 there (as PyTorch), not NaN
    return x


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5, 0.5, float("inf")])
@pytest.mark.parametrize("dim", [1, -1, 0])
def test_normalize(p, dim):
    compare(lambda x: F.normalize(x, p=p, dim=dim), lambda x: TF.normalize(x, p=p, dim=dim), [with_zero_rows(3, 4)])
    x = np.array([[1e-13, 0, 0], [3, -3, 1]], np.float32)  # a norm below eps
    compare(lambda x: F.normalize(x, p, 1, eps=1e-6), lambda x: TF.normalize(x, p, 1, eps=1e-6), [x])


@pytest.mark.parametrize("dim", [1, 0, -1])
def test_cosine_similarity(dim):
    a, b = with_zero_rows(4, 5), normal(4, 5)
    compare(lambda x, y: F.cosine_similarity(x, y, dim), lambda x, y: TF.cosine_similarity(x, y, dim), [a, b])
    small = np.full((2, 3), 1e-6, np.float32)  # norms below eps, clamped each on its own
    compare(lambda x, y: F.cosine_similarity(x, y, dim, 1e-4), lambda x, y: TF.cosine_similarity(x, y, dim, 1e-4),
            [small, normal(2, 3)])
    compare(nn.CosineSimilarity(dim), torch.nn.CosineSimilarity(dim), [normal(1, 5), normal(3, 5)])
    compare(lambda x, y: F.cosine_similarity(x, y, 1), lambda x, y: TF.cosine_similarity(x, y, 1),
            [normal(3, 1), normal(3, 4)])  # broadcast along dim itself: expanded before the norm, as torch


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim):
    a = normal(4, 5)
    b = a.copy()
    b[1:] = normal(3, 5)
    b[0] -= 1e-6  # x1 − x2 + eps = 0 in the first row
    compare(lambda x, y: F.pairwise_distance(x, y, p, keepdim=keepdim),
            lambda x, y: TF.pairwise_distance(x, y, p, keepdim=keepdim), [a, b])
    compare(nn.PairwiseDistance(p, 0.1, keepdim), torch.nn.PairwiseDistance(p, 0.1, keepdim), [normal(5), normal(3, 5)])


# -- losses ------------------------------------------------------------------------------------------------------
def at_beta(beta):
    """Differences at ±β exactly, at 0, inside and beyond."""
    x = normal(4, 5)
    y = x.copy()
    y[0, :4] = x[0, :4] - np.array([beta, -beta, 0, beta / 2], np.float32)
    return [x, y]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1(reduction, beta):
    compare(nn.SmoothL1Loss(reduction=reduction, beta=beta), torch.nn.SmoothL1Loss(reduction=reduction, beta=beta),
            at_beta(beta))


@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    logp = np.log(rng.dirichlet(np.ones(5), 4)).astype(np.float32)
    q = rng.dirichlet(np.ones(5), 4).astype(np.float32)
    if log_target:
        q = np.log(q)
    else:
        q[0, 0] = 0  # xlogy: loss 0, target gradient NaN, as torch
    compare(nn.KLDivLoss(reduction=reduction, log_target=log_target),
            torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), [logp, q])


def test_kl_div_mean_warns_and_batchmean_of_0d():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(lamina.randn(2, 3), lamina.rand(2, 3))
    compare(lambda x, y: F.kl_div(x, y, reduction="batchmean"), lambda x, y: TF.kl_div(x, y, reduction="batchmean"),
            [np.float32(-0.5).reshape(()), np.float32(0.3).reshape(())])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # target 0 with full: NaN gradient, as torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll(reduction, log_input, full):
    x = normal(4, 5) if log_input else positive(4, 5)
    y = rng.poisson(2.0, (4, 5)).astype(np.float32)
    y[0, :3] = [0, 1, 5]
    compare(nn.PoissonNLLLoss(log_input, full, reduction=reduction),
            torch.nn.PoissonNLLLoss(log_input, full, reduction=reduction), [x, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4, 1), (4,), (1, 3)])
def test_gaussian_nll(reduction, full, var_shape):
    var = positive(*var_shape)
    var.reshape(-1)[0] = 1e-8  # below eps: clamped outside the gradient, as torch
    compare(nn.GaussianNLLLoss(full=full, reduction=reduction), torch.nn.GaussianNLLLoss(full=full,
            reduction=reduction), [normal(4, 3), normal(4, 3), var])


def test_gaussian_nll_float_var_and_broadcast_target():
    compare(lambda x, y: F.gaussian_nll_loss(x, y, 0.5), lambda x, y: TF.gaussian_nll_loss(x, y, 0.5),
            [normal(4, 3), normal(4, 1)])
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(lamina.randn(4, 3), lamina.randn(4, 3), lamina.ones(3, 3))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(lamina.randn(4, 3), lamina.randn(4, 3), -lamina.ones(4, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding(reduction, margin):
    y = np.array([1, -1, 1, -1, -1, 1], np.int64)
    a, b = normal(6, 4), normal(6, 4)
    b[1] = a[1]  # cos = 1
    compare(nn.CosineEmbeddingLoss(margin, reduction=reduction),
            torch.nn.CosineEmbeddingLoss(margin, reduction=reduction), [a, b, y])
    unbatched = [normal(4), normal(4), np.array(-1.0, np.float32)]
    compare(nn.CosineEmbeddingLoss(margin, reduction=reduction),
            torch.nn.CosineEmbeddingLoss(margin, reduction=reduction), unbatched, grads=[True, True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking(reduction, margin):
    a, b = normal(6), normal(6)
    b[0] = a[0] + margin  # exactly at the margin for y = 1
    y = np.array([1, 1, -1, 1, -1, -1], np.float32)
    compare(nn.MarginRankingLoss(margin, reduction=reduction), torch.nn.MarginRankingLoss(margin, reduction=reduction),
            [a, b, y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,swap", [(2.0, False), (1.0, False), (2.0, True), (3.0, True)])
def test_triplet_margin(reduction, p, swap):
    a, pos, neg = normal(5, 4), normal(5, 4), normal(5, 4)
    neg[0] = pos[0]  # the swap distance ties with d(a, n) in this row
    neg[1] = a[1] + 3
    compare(nn.TripletMarginLoss(0.7, p, swap=swap, reduction=reduction),
            torch.nn.TripletMarginLoss(0.7, p, swap=swap, reduction=reduction), [a, pos, neg])
    compare(nn.TripletMarginLoss(reduction=reduction), torch.nn.TripletMarginLoss(reduction=reduction),
            [normal(4), normal(4), normal(4)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin(reduction, weighted):
    w = positive(5)
    ours = nn.MultiLabelSoftMarginLoss(weight=w if weighted else None, reduction=reduction)
    theirs = torch.nn.MultiLabelSoftMarginLoss(weight=torch.from_numpy(w) if weighted else None, reduction=reduction)
    y = rng.integers(0, 2, (4, 5)).astype(np.float32)
    compare(ours, theirs, [normal(4, 5) * 5, y])
    compare(ours, theirs, [normal(5) * 5, y[0]])
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin(reduction):
    y = rng.choice([-1.0, 1.0], (4, 5)).astype(np.float32)
    compare(nn.SoftMarginLoss(reduction=reduction), torch.nn.SoftMarginLoss(reduction=reduction),
            [normal(4, 5) * 3, y], grads=[True, False])
    with pytest.raises(RuntimeError, match="not differentiable with respect to target"):
        F.soft_margin_loss(lamina.randn(3), lamina.ones(3, requires_grad=True))


def test_reprs_legacy_reduction_and_target_kinds():
    pairs = [(nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)), (nn.KLDivLoss(), torch.nn.KLDivLoss()),
             (nn.TripletMarginLoss(), torch.nn.TripletMarginLoss()), (nn.GaussianNLLLoss(), torch.nn.GaussianNLLLoss())]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    with pytest.warns(UserWarning, match="size_average"):
        assert nn.SoftMarginLoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.SmoothL1Loss(reduce=False).reduction == "none"
    assert nn.SmoothL1Loss.target_kind == nn.KLDivLoss.target_kind == nn.MultiLabelSoftMarginLoss.target_kind == "real"
    assert nn.TripletMarginLoss.target_kind is None and nn.MarginRankingLoss.target_kind is None


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        F.triplet_margin_loss(lamina.randn(2, 3), lamina.randn(3), lamina.randn(2, 3))
    with pytest.raises(ValueError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(lamina.randn(3), lamina.randn(3), lamina.ones(3))
    with pytest.raises(ValueError, match=r"input shape \(4, 3\) and target shape \(4,\) differ"):
        nn.SmoothL1Loss()(lamina.randn(4, 3), lamina.randn(4))
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        F.normalize(lamina.randn(2, 3), dim=2)
