"""Adamax follows torch.optim.Adamax: trajectory and state on a small MLP, arguments, errors, checkpoints."""

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import Adamax
from lamina.tensor import Tensor

torch = pytest.importorskip("torch")

CONFIGS = {
    "default": dict(),
    "betas_eps": dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
    "maximize": dict(lr=0.002, maximize=True),
    "maximize_weight_decay": dict(lr=0.002, maximize=True, weight_decay=0.1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_adamax_matches_torch(name, dtype, same_trajectory, same_state):
    kw = CONFIGS[name]
    ours, theirs = same_trajectory(lambda p: Adamax(p, **kw), lambda p: torch.optim.Adamax(p, **kw), dtype=dtype)
    same_state(ours, theirs, *((1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)))


def test_adamax_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.01, "betas": (0.8, 0.99)}, {"params": p[2:], "eps": 1e-3}]  # noqa: E731
    same_trajectory(lambda g: Adamax(g, lr=0.005), lambda g: torch.optim.Adamax(g, lr=0.005), groups=groups)


@pytest.mark.parametrize("name", CONFIGS)
def test_adamax_resumes_from_its_state_dict(name, resumes_identically):
    resumes_identically(lambda p: Adamax(p, **CONFIGS[name]))


def test_adamax_signature_is_torchs(torch_signature):
    torch_signature(Adamax, torch.optim.Adamax)


@pytest.mark.parametrize("kw, message", [
    (dict(lr=-1.0), r"Adamax: invalid lr=-1.0; it must be >= 0"),
    (dict(betas=(1.0, 0.999)), r"Adamax: invalid betas\[0\]=1.0; it must be in \[0.0, 1.0\)"),
    (dict(betas=(0.9, -0.5)), r"betas\[1\]"),
    (dict(eps=-1e-8), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"),
])
def test_adamax_refuses_what_torch_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        Adamax([Parameter(np.zeros(2, np.float32))], **kw)
    with pytest.raises(ValueError):
        torch.optim.Adamax([torch.zeros(2, requires_grad=True)], **kw)


def test_adamax_worked_example():
    """t = 1: m = (1−β₁)g, u = |g| + ε, so the step is η·sign(g) (up to ε); u keeps the larger of β₂u and |g|."""
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = Adamax([p], lr=0.1, eps=0.0)
    p.grad = Tensor(np.array([3.0, -0.5], dtype=np.float32))
    opt.step()
    np.testing.assert_allclose(p.array, [-0.1, 0.1], rtol=1e-6)
    p.grad = Tensor(np.array([1.0, -2.0], dtype=np.float32))
    opt.step()
    np.testing.assert_allclose(opt.state[p]["exp_inf"], [3.0 * 0.999, 2.0], rtol=1e-6)
