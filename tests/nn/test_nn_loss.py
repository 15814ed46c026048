"""Losses against torch (every reduction, weights, ignore_index, label smoothing, probability targets),
gradcheck, numerical stability at extreme logits, and the errors for mismatched targets."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.autograd import gradcheck
from lamina.nn import functional as F

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
TOL = dict(rtol=1e-4, atol=1e-5)
REDUCTIONS = ["mean", "sum", "none"]


def normal(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def probs(*shape):
    return rng.uniform(0.02, 0.98, shape).astype(np.float32)


def classes(n_classes, *shape):
    return rng.integers(0, n_classes, shape).astype(np.int64)


def run_both(ours, theirs, x, target, target_grad=False):
    """Forward and backward (with a random upstream gradient) through both; compare value and gradients."""
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    float_target = target.dtype.kind == "f"
    tl = lamina.tensor(target, requires_grad=target_grad and float_target)
    tt = torch.tensor(target, requires_grad=target_grad and float_target)
    yl, yt = ours(xl, tl), theirs(xt, tt)
    assert yl.shape == tuple(yt.shape) and yl.dtype == np.float32
    np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), **TOL)
    g = normal(*yt.shape)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), **TOL)
    assert xl.grad.dtype == np.float32
    if target_grad and float_target:
        np.testing.assert_allclose(tl.grad.numpy(), tt.grad.numpy(), **TOL)
    return yl


# (id, lamina module kwargs -> module, torch module, input, target, check target gradient)
def regression_cases():
    w = normal(4, 3) ** 2
    pw = np.array([0.5, 2.0, 3.0], np.float32)
    return [
        ("mse", lambda r: nn.MSELoss(reduction=r), lambda r: torch.nn.MSELoss(reduction=r), normal(4, 3),
         normal(4, 3), True),
        ("mse_3d", lambda r: nn.MSELoss(reduction=r), lambda r: torch.nn.MSELoss(reduction=r), normal(2, 3, 4),
         normal(2, 3, 4), True),
        ("l1", lambda r: nn.L1Loss(reduction=r), lambda r: torch.nn.L1Loss(reduction=r), normal(4, 3),
         normal(4, 3), True),
        ("huber", lambda r: nn.HuberLoss(reduction=r), lambda r: torch.nn.HuberLoss(reduction=r),
         normal(5, 3) * 2, normal(5, 3), True),
        ("huber_0.5", lambda r: nn.HuberLoss(reduction=r, delta=0.5),
         lambda r: torch.nn.HuberLoss(reduction=r, delta=0.5), normal(5, 3) * 2, normal(5, 3), True),
        ("bce", lambda r: nn.BCELoss(reduction=r), lambda r: torch.nn.BCELoss(reduction=r), probs(4, 3),
         probs(4, 3), True),
        ("bce_hard_targets", lambda r: nn.BCELoss(reduction=r), lambda r: torch.nn.BCELoss(reduction=r),
         probs(6), rng.integers(0, 2, 6).astype(np.float32), False),
        ("bce_weight", lambda r: nn.BCELoss(weight=w, reduction=r),
         lambda r: torch.nn.BCELoss(weight=torch.from_numpy(w), reduction=r), probs(4, 3), probs(4, 3), True),
        ("bce_logits", lambda r: nn.BCEWithLogitsLoss(reduction=r), lambda r: torch.nn.BCEWithLogitsLoss(reduction=r),
         normal(4, 3) * 3, probs(4, 3), True),
        ("bce_logits_weight_posweight", lambda r: nn.BCEWithLogitsLoss(weight=w, reduction=r, pos_weight=pw),
         lambda r: torch.nn.BCEWithLogitsLoss(weight=torch.from_numpy(w), reduction=r,
                                              pos_weight=torch.from_numpy(pw)),
         normal(4, 3) * 3, rng.integers(0, 2, (4, 3)).astype(np.float32), True),
        ("bce_logits_posweight", lambda r: nn.BCEWithLogitsLoss(reduction=r, pos_weight=lamina.tensor(pw)),
         lambda r: torch.nn.BCEWithLogitsLoss(reduction=r, pos_weight=torch.from_numpy(pw)),
         normal(2, 5, 3), probs(2, 5, 3), True),
    ]


REGRESSION = regression_cases()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", REGRESSION, ids=[c[0] for c in REGRESSION])
def test_elementwise_losses_match_torch(case, reduction):
    _, ours, theirs, x, target, target_grad = case
    run_both(ours(reduction), theirs(reduction), x, target, target_grad)


def class_cases():
    w = rng.uniform(0.2, 2.0, 5).astype(np.float32)
    with_ignored = classes(5, 8)
    with_ignored[[1, 4]] = -100
    ignored_3 = classes(5, 8)
    ignored_3[[0, 2, 3]] = 3
    soft = rng.dirichlet(np.ones(5), 8).astype(np.float32)
    tw = torch.from_numpy(w)
    CE, TCE = nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss
    return [
        ("ce", lambda r: CE(reduction=r), lambda r: TCE(reduction=r), normal(8, 5) * 2, classes(5, 8)),
        ("ce_unbatched", lambda r: CE(reduction=r), lambda r: TCE(reduction=r), normal(5), classes(5)),
        ("ce_spatial", lambda r: CE(reduction=r), lambda r: TCE(reduction=r), normal(3, 5, 2, 4), classes(5, 3, 2, 4)),
        ("ce_weight", lambda r: CE(weight=w, reduction=r), lambda r: TCE(weight=tw, reduction=r),
         normal(8, 5), classes(5, 8)),
        ("ce_ignore", lambda r: CE(reduction=r), lambda r: TCE(reduction=r), normal(8, 5), with_ignored),
        ("ce_ignore_3_weight", lambda r: CE(weight=w, ignore_index=3, reduction=r),
         lambda r: TCE(weight=tw, ignore_index=3, reduction=r), normal(8, 5), ignored_3),
        ("ce_smoothing", lambda r: CE(reduction=r, label_smoothing=0.1),
         lambda r: TCE(reduction=r, label_smoothing=0.1), normal(8, 5) * 2, classes(5, 8)),
        ("ce_smoothing_weight_ignore", lambda r: CE(weight=w, reduction=r, label_smoothing=0.3),
         lambda r: TCE(weight=tw, reduction=r, label_smoothing=0.3), normal(8, 5), with_ignored),
        ("ce_smoothing_spatial_weight", lambda r: CE(weight=w, reduction=r, label_smoothing=0.2),
         lambda r: TCE(weight=tw, reduction=r, label_smoothing=0.2), normal(2, 5, 3), classes(5, 2, 3)),
        ("ce_probs", lambda r: CE(reduction=r), lambda r: TCE(reduction=r), normal(8, 5), soft),
        ("ce_probs_weight_smoothing", lambda r: CE(weight=w, reduction=r, label_smoothing=0.2),
         lambda r: TCE(weight=tw, reduction=r, label_smoothing=0.2), normal(8, 5), soft),
        ("ce_probs_spatial", lambda r: CE(reduction=r), lambda r: TCE(reduction=r), normal(2, 5, 3),
         np.moveaxis(rng.dirichlet(np.ones(5), (2, 3)), -1, 1).astype(np.float32)),
        ("nll", lambda r: nn.NLLLoss(reduction=r), lambda r: torch.nn.NLLLoss(reduction=r), normal(8, 5),
         classes(5, 8)),
        ("nll_weight_ignore", lambda r: nn.NLLLoss(weight=w, reduction=r),
         lambda r: torch.nn.NLLLoss(weight=tw, reduction=r), normal(8, 5), with_ignored),
        ("nll_spatial_ignore_3", lambda r: nn.NLLLoss(ignore_index=3, reduction=r),
         lambda r: torch.nn.NLLLoss(ignore_index=3, reduction=r), normal(2, 5, 4), classes(5, 2, 4)),
        ("nll_unbatched", lambda r: nn.NLLLoss(reduction=r), lambda r: torch.nn.NLLLoss(reduction=r),
         normal(5), classes(5)),
    ]


CLASS = class_cases()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CLASS, ids=[c[0] for c in CLASS])
def test_class_losses_match_torch(case, reduction):
    _, ours, theirs, x, target = case
    run_both(ours(reduction), theirs(reduction), x, target, target_grad=True)


def test_cross_entropy_is_one_node_with_softmax_minus_onehot_gradient():
    z = lamina.randn(4, 3, requires_grad=True)
    y = lamina.tensor([0, 2, 1, 2])
    loss = F.cross_entropy(z, y)
    assert loss.grad_fn.name == "CrossEntropyBackward0" and loss.grad_fn.parents[0] is z
    loss.backward()
    expected = (z.detach().softmax(1).numpy() - np.eye(3, dtype=np.float32)[y.numpy()]) / 4
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_functional_matches_modules():
    x, t = lamina.randn(4, 3), lamina.randn(4, 3)
    p = lamina.rand(4, 3) * 0.9 + 0.05
    y = lamina.tensor([0, 1, 2, 1])
    assert F.mse_loss(x, t).item() == nn.MSELoss()(x, t).item()
    assert F.l1_loss(x, t, reduction="sum").item() == nn.L1Loss(reduction="sum")(x, t).item()
    assert F.huber_loss(x, t, delta=0.3).item() == nn.HuberLoss(delta=0.3)(x, t).item()
    assert F.binary_cross_entropy(p, t.sigmoid()).item() == nn.BCELoss()(p, t.sigmoid()).item()
    assert F.binary_cross_entropy_with_logits(x, p).item() == nn.BCEWithLogitsLoss()(x, p).item()
    assert F.cross_entropy(x, y, label_smoothing=0.1).item() == nn.CrossEntropyLoss(label_smoothing=0.1)(x, y).item()
    assert F.nll_loss(x.log_softmax(1), y).item() == nn.NLLLoss()(x.log_softmax(1), y).item()
    np.testing.assert_allclose(F.cross_entropy(x, y).item(), F.nll_loss(F.log_softmax(x, 1), y).item(), rtol=1e-6)
    assert list(nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0]).state_dict()) == ["weight"]


# -- gradcheck (float64, small random shapes) ------------------------------------------------------
def _f64(a):
    return lamina.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_losses_gradcheck(reduction):
    x, t = _f64(rng.standard_normal((3, 4)) * 2), _f64(rng.standard_normal((3, 4)))
    p, q = _f64(rng.uniform(0.05, 0.95, (3, 4))), _f64(rng.uniform(0.05, 0.95, (3, 4)))
    w, pw = np.abs(rng.standard_normal(4)) + 0.1, np.abs(rng.standard_normal(4)) + 0.1
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), [x, t])
    assert gradcheck(lambda a, b: F.l1_loss(a, b, reduction=reduction), [x, t])
    assert gradcheck(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.7), [x, t])
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction=reduction), [p, q])
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction, pos_weight=pw), [x, q])
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), [x, q])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2)])
def test_class_losses_gradcheck(reduction, shape):
    z = _f64(rng.standard_normal(shape))
    target_shape = shape[:1] + shape[2:]
    y = lamina.tensor(rng.integers(0, 3, target_shape))
    y.numpy().reshape(-1)[0] = -100
    w = rng.uniform(0.5, 2, 3)
    soft = _f64(np.ascontiguousarray(np.moveaxis(rng.dirichlet(np.ones(3), target_shape), -1, 1)))
    assert gradcheck(lambda z: F.cross_entropy(z, y, reduction=reduction), [z])
    assert gradcheck(lambda z: F.cross_entropy(z, y, weight=w, reduction=reduction, label_smoothing=0.2), [z])
    assert gradcheck(lambda z, t: F.cross_entropy(z, t, weight=w, reduction=reduction, label_smoothing=0.1),
                     [z, soft])
    assert gradcheck(lambda z: F.nll_loss(z, y, weight=w, reduction=reduction), [z])


# -- stability --------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_no_inf_or_nan_for_huge_logits(scale):
    z = lamina.tensor(np.array([[1.0, -1.0, 0.5], [-0.3, 0.2, 1.0]], np.float32) * scale, requires_grad=True)
    cases = [
        lambda z: F.cross_entropy(z, lamina.tensor([0, 2])),
        lambda z: F.cross_entropy(z, lamina.tensor([1, 0]), label_smoothing=0.1, weight=[1.0, 2.0, 0.5]),
        lambda z: F.cross_entropy(z, lamina.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])),
        lambda z: F.nll_loss(F.log_softmax(z, 1), lamina.tensor([1, 2])),
        lambda z: F.binary_cross_entropy_with_logits(z, lamina.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]])),
        lambda z: F.binary_cross_entropy_with_logits(z, lamina.ones(2, 3), pos_weight=lamina.tensor([3.0, 1, 1])),
        lambda z: F.binary_cross_entropy(z.sigmoid(), lamina.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]])),
    ]
    for i, fn in enumerate(cases):
        z.grad = None
        loss = fn(z)
        loss.backward()
        assert np.isfinite(loss.item()), i
        assert np.all(np.isfinite(z.grad.numpy())), i
    # and the values are the exact ones: a wrong class at 1e4 margin costs 2e4 (torch agrees)
    zt = torch.tensor(z.detach().numpy())
    np.testing.assert_allclose(F.cross_entropy(z, lamina.tensor([0, 2])).item(),
                               torch.nn.functional.cross_entropy(zt, torch.tensor([0, 2])).item(), rtol=1e-5)


def test_bce_clamps_log_at_minus_100():
    p = lamina.tensor([0.0, 1.0, 0.0], requires_grad=True)
    y = lamina.tensor([1.0, 0.0, 0.0])
    loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100, 100, 0])
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad.numpy()))


# -- errors -------------------------------------------------------------------------------------------
def test_shape_mismatch_raises_instead_of_broadcasting():
    pred, target = lamina.randn(32, 1), lamina.randn(32)
    for loss in (nn.MSELoss(), nn.L1Loss(), nn.HuberLoss(), nn.BCEWithLogitsLoss()):
        with pytest.raises(ValueError, match=r"input shape \(32, 1\) and target shape \(32,\) differ.*"
                                             r"\(32, 32\).*target.reshape\(32, 1\)"):
            loss(pred, target)
    with pytest.raises(ValueError, match="dtype int64 but input has dtype float32"):
        F.mse_loss(lamina.randn(3), lamina.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([0.5, 1.5]), lamina.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(lamina.randn(2, 3), lamina.tensor([0, 1]), reduction="mean ")


def test_class_target_errors_name_the_problem():
    logits = lamina.randn(4, 5)
    with pytest.raises(ValueError, match=r"target value 7 is out of range for 5 classes"):
        F.cross_entropy(logits, lamina.tensor([0, 7, 1, 2]))
    with pytest.raises(ValueError, match=r"target value -1 is out of range for 5 classes"):
        nn.NLLLoss()(logits, lamina.tensor([0, -1, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \(4,\).*shape \(4, 5\).*got target of shape \(4, 1\)"):
        F.cross_entropy(logits, lamina.tensor([[0], [1], [2], [3]]))
    with pytest.raises(ValueError, match=r"use target.long\(\)"):
        F.cross_entropy(logits, lamina.tensor([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"argmax\(1\)"):
        F.cross_entropy(logits, lamina.tensor(np.eye(5, dtype=np.int64)[[0, 1, 2, 3]]))
    with pytest.raises(ValueError, match=r"weight should have shape \(5,\)"):
        F.cross_entropy(logits, lamina.tensor([0, 1, 2, 3]), weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(logits, lamina.tensor([0, 1, 2, 3]), label_smoothing=1.5)
