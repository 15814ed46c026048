"""The further activations (hardtanh ... hardshrink, prelu, glu, softmin) against torch: values, gradients at and
around every kink, every option, reprs, errors. Their gradcheck is torch-free, in tests/ops/test_ops_activation.py."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(0)
# every kink of every activation below, plus ordinary and extreme values
KINKS = np.array([-6, -3, -2, -1, -0.5, -0.3, 0, 0.3, 0.5, 1, 2, 3, 6, 0.1, -0.1, 2.5, -2.5, 7, -7, 30, -30, 100,
                  -100, 1.5], np.float32)

# (id, lamina module, torch module)
MODULES = [
    ("hardtanh", nn.Hardtanh(), torch.nn.Hardtanh()),
    ("hardtanh_-2_3", nn.Hardtanh(-2.0, 3.0, inplace=True), torch.nn.Hardtanh(-2.0, 3.0)),
    ("relu6", nn.ReLU6(), torch.nn.ReLU6()),
    ("selu", nn.SELU(), torch.nn.SELU()),
    ("celu", nn.CELU(), torch.nn.CELU()),
    ("celu_0.5", nn.CELU(0.5), torch.nn.CELU(0.5)),
    ("celu_2", nn.CELU(alpha=2.0), torch.nn.CELU(alpha=2.0)),
    ("mish", nn.Mish(), torch.nn.Mish()),
    ("hardswish", nn.Hardswish(), torch.nn.Hardswish()),
    ("hardsigmoid", nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
    ("logsigmoid", nn.LogSigmoid(), torch.nn.LogSigmoid()),
    ("softsign", nn.Softsign(), torch.nn.Softsign()),
    ("tanhshrink", nn.Tanhshrink(), torch.nn.Tanhshrink()),
    ("threshold", nn.Threshold(0.5, -2.0), torch.nn.Threshold(0.5, -2.0)),
    ("threshold_0_20", nn.Threshold(0.0, 20.0), torch.nn.Threshold(0.0, 20.0)),
    ("softshrink", nn.Softshrink(), torch.nn.Softshrink()),
    ("softshrink_1", nn.Softshrink(1.0), torch.nn.Softshrink(1.0)),
    ("softshrink_0", nn.Softshrink(0.0), torch.nn.Softshrink(0.0)),
    ("hardshrink", nn.Hardshrink(), torch.nn.Hardshrink()),
    ("hardshrink_2", nn.Hardshrink(2.0), torch.nn.Hardshrink(2.0)),
    ("softmin_1", nn.Softmin(dim=1), torch.nn.Softmin(dim=1)),
    ("softmin_0", nn.Softmin(dim=0), torch.nn.Softmin(dim=0)),
    ("glu", nn.GLU(), torch.nn.GLU()),
    ("glu_0", nn.GLU(dim=0), torch.nn.GLU(dim=0)),
]


def compare(ours, theirs, x, tol=1e-5):
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yl, yt = ours(xl), theirs(xt)
    assert yl.dtype == np.float32 and yl.shape == tuple(yt.shape)
    np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(yl.shape).astype(np.float32)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)
    return xl


@pytest.mark.parametrize("name,ours,theirs", MODULES, ids=[m[0] for m in MODULES])
def test_matches_torch_at_kinks_and_beyond(name, ours, theirs):
    compare(ours, theirs, KINKS.reshape(4, 6))
    compare(ours, theirs, (rng.standard_normal((2, 3, 4)) * 3).astype(np.float32))
    theirs.inplace = getattr(ours, "inplace", False)  # torch's in-place forward would refuse the leaf above
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("shape,num", [((4, 3), 1), ((4, 3), 3), ((2, 3, 5), 3), ((2, 3, 2, 2), 3), ((6,), 1), ((), 1)])
def test_prelu_matches_torch_with_weight_gradient(shape, num):
    ours, theirs = nn.PReLU(num, init=0.1), torch.nn.PReLU(num, init=0.1)
    w = rng.uniform(-0.5, 0.5, num).astype(np.float32)
    ours.weight.array[...] = w
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(w))
    x = rng.choice(KINKS, shape).astype(np.float32)
    compare(ours, theirs, x)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())


def test_functional_forms_match_torch_with_options():
    x = KINKS.reshape(4, 6)
    cases = [
        (lambda t: F.hardtanh(t, -0.5, 2.0), lambda t: TF.hardtanh(t, -0.5, 2.0)),
        (lambda t: F.relu6(t, inplace=False), lambda t: TF.relu6(t)),
        (F.selu, TF.selu), (lambda t: F.celu(t, 3.0), lambda t: TF.celu(t, 3.0)), (F.mish, TF.mish),
        (F.hardswish, TF.hardswish), (F.hardsigmoid, TF.hardsigmoid), (F.logsigmoid, TF.logsigmoid),
        (F.softsign, TF.softsign), (F.tanhshrink, TF.tanhshrink),
        (lambda t: F.threshold(t, 1.0, 0.5), lambda t: TF.threshold(t, 1.0, 0.5)),
        (lambda t: F.softshrink(t, 0.3), lambda t: TF.softshrink(t, 0.3)),
        (lambda t: F.hardshrink(t, 0.3), lambda t: TF.hardshrink(t, 0.3)),
        (lambda t: F.softmin(t, -1), lambda t: TF.softmin(t, -1)),
        (lambda t: F.softmin(t, 1, dtype=lamina.float64), lambda t: TF.softmin(t, 1, dtype=torch.float64)),
        (lambda t: F.glu(t, 1), lambda t: TF.glu(t, 1)),
        (lambda t: F.prelu(t, lamina.tensor([0.3])), lambda t: TF.prelu(t, torch.tensor([0.3]))),
    ]
    for ours, theirs in cases:
        xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yl, yt = ours(xl), theirs(xt)
        np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
        yl.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_extremes_stay_finite():
    x = lamina.tensor([[-1e4, -100.0, 0.0, 100.0, 1e4]], requires_grad=True)
    for fn in (F.selu, F.celu, F.mish, F.logsigmoid, F.softsign, F.tanhshrink, F.hardswish):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(x.grad.numpy())), fn


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="halving dimension must be even, but dimension 1 is size 3"):
        F.glu(lamina.randn(2, 3), dim=1)
    model = nn.Sequential(nn.Linear(4, 3), nn.GLU())
    with pytest.raises(nn.LayerInputError, match=r"model\.1 \(GLU\(dim=-1\)\): halving dimension"):
        model(lamina.randn(2, 4))
    with pytest.raises(nn.LayerInputError, match=r"model\.0 \(PReLU\(num_parameters=4\)\).*4 slopes for 3 channels"):
        nn.Sequential(nn.PReLU(4))(lamina.randn(2, 3))
    with pytest.raises(ValueError, match="6 slopes for 1 channels"):
        F.prelu(lamina.randn(6), lamina.ones(6))  # 1-d input has one channel, as in PyTorch
    with pytest.raises(ValueError, match="lambda must be greater or equal to 0"):
        F.softshrink(lamina.randn(3), -1.0)
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        nn.Softmin()(lamina.randn(2, 3))
