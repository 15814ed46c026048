"""lamina.nn.utils: gradient clipping and vector round trips against torch; the L1/L2 penalty."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.autograd import gradcheck
from lamina.nn import utils

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)


def twin_params(scale):
    """Parameters with gradients, the same in lamina and torch."""
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2, 2)]]
    grads = [rng.standard_normal(a.shape).astype(np.float32) * scale for a in arrays]
    ours, theirs = [], []
    for a, g in zip(arrays, grads):
        p = nn.Parameter(a.copy())
        p.grad = lamina.tensor(g.copy())
        t = torch.nn.Parameter(torch.from_numpy(a.copy()))
        t.grad = torch.from_numpy(g.copy())
        ours.append(p)
        theirs.append(t)
    no_grad = nn.Parameter(lamina.ones(2))  # a parameter without a gradient is skipped
    return ours + [no_grad], theirs + [torch.nn.Parameter(torch.ones(2))]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("scale", [0.01, 10.0])  # below and above max_norm
def test_clip_grad_norm_matches_torch(norm_type, scale):
    ours, theirs = twin_params(scale)
    total = utils.clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert total.dtype == np.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-5)
    for p, t in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert ours[-1].grad is None


def test_clip_grad_norm_nonfinite_and_module_input():
    ours, _ = twin_params(1.0)
    ours[0].grad.array[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    model = nn.Linear(3, 2)
    model(lamina.randn(4, 3)).sum().backward()
    norm = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in model.parameters()))
    assert utils.clip_grad_norm_(model.parameters(), 1e9).item() == pytest.approx(norm, rel=1e-5)
    assert utils.clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_value_matches_torch():
    ours, theirs = twin_params(3.0)
    utils.clip_grad_value_(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, t in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_parameters_to_vector_and_back():
    ours, theirs = twin_params(1.0)
    vec = utils.parameters_to_vector(ours)
    np.testing.assert_array_equal(vec.detach().numpy(), torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
    for p in ours:
        p.grad = None
    (vec * 2).sum().backward()  # differentiable
    assert all(np.all(p.grad.numpy() == 2) for p in ours)
    new = lamina.arange(vec.numel()).float()
    before = ours[0]
    utils.vector_to_parameters(new, ours)
    torch.nn.utils.vector_to_parameters(torch.arange(vec.numel()).float(), theirs)
    assert ours[0] is before
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.detach().numpy(), t.detach().numpy())
    with pytest.raises(ValueError, match="26 elements"):
        utils.vector_to_parameters(lamina.zeros(5), ours)


def test_penalty_value_and_gradient():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    term = utils.penalty(weights, l1=0.01, l2=0.1)
    expected = sum(0.01 * np.abs(w.detach().numpy()).sum() + 0.1 * (w.detach().numpy() ** 2).sum() for w in weights)
    np.testing.assert_allclose(term.item(), expected, rtol=1e-6)
    assert term.grad_fn is not None and term.dtype == np.float32
    term.backward()
    w = weights[0].detach().numpy()
    np.testing.assert_allclose(weights[0].grad.numpy(), 0.01 * np.sign(w) + 0.2 * w, rtol=1e-6)
    assert model[0].bias.grad is None  # not chosen, untouched
    assert utils.penalty(model, l2=0.5).item() == pytest.approx(
        0.5 * sum((p.detach().numpy() ** 2).sum() for p in model.parameters()), rel=1e-6)
    assert utils.penalty(weights).item() == 0.0
    a, b = (lamina.tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 3), (4,)])
    assert gradcheck(lambda a, b: utils.penalty([a, b], l1=0.3, l2=0.7), [a, b])
