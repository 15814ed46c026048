"""NAdam follows torch.optim.NAdam: trajectory and state on a small MLP, arguments, errors, checkpoints."""

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import NAdam
from lamina.tensor import Tensor

torch = pytest.importorskip("torch")

CONFIGS = {
    "default": dict(),
    "betas_eps": dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    "momentum_decay": dict(lr=0.005, momentum_decay=0.05),
    "weight_decay": dict(lr=0.005, weight_decay=0.1),
    "decoupled_weight_decay": dict(lr=0.005, weight_decay=0.3, decoupled_weight_decay=True),
    "maximize": dict(lr=0.002, maximize=True),
    "maximize_weight_decay": dict(lr=0.002, maximize=True, weight_decay=0.1, momentum_decay=0.01),
    "maximize_decoupled": dict(lr=0.002, maximize=True, weight_decay=0.1, decoupled_weight_decay=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_nadam_matches_torch(name, dtype, same_trajectory, same_state, torch_scalars):
    kw = CONFIGS[name]
    ours, theirs = same_trajectory(lambda p: NAdam(p, **kw), lambda p: torch.optim.NAdam(p, **kw), dtype=dtype)
    same_state(ours, theirs, *((1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)))


def test_nadam_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.01, "momentum_decay": 0.02},  # noqa: E731
                        {"params": p[2:], "decoupled_weight_decay": True}]
    same_trajectory(lambda g: NAdam(g, weight_decay=0.1), lambda g: torch.optim.NAdam(g, weight_decay=0.1),
                    groups=groups)


@pytest.mark.parametrize("name", CONFIGS)
def test_nadam_resumes_from_its_state_dict(name, resumes_identically):
    resumes_identically(lambda p: NAdam(p, **CONFIGS[name]))


def test_nadam_signature_is_torchs(torch_signature):
    torch_signature(NAdam, torch.optim.NAdam)


@pytest.mark.parametrize("kw, message", [
    (dict(lr=-1.0), r"NAdam: invalid lr=-1.0; it must be >= 0"),
    (dict(betas=(1.0, 0.999)), r"NAdam: invalid betas\[0\]=1.0; it must be in \[0.0, 1.0\)"),
    (dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (dict(eps=-1e-8), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"),
    (dict(momentum_decay=-0.004), r"NAdam: invalid momentum_decay=-0.004"),
])
def test_nadam_refuses_what_torch_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        NAdam([Parameter(np.zeros(2, np.float32))], **kw)
    with pytest.raises(ValueError):
        torch.optim.NAdam([torch.zeros(2, requires_grad=True)], **kw)


def test_nadam_first_step_worked_example():
    """t = 1: μ₁ = β₁(1 − ½·0.96^ψ), Π = μ₁, m = (1−β₁)g, s = |g| (ε = 0); the step is
    η(1−μ₁)/(1−μ₁)·sign(g) + η·μ₂(1−β₁)/(1−μ₁μ₂)·sign(g)."""
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = NAdam([p], lr=0.1, eps=0.0)
    p.grad = Tensor(np.array([3.0, -0.5], dtype=np.float32))
    opt.step()
    mu1, mu2 = 0.9 * (1 - 0.5 * 0.96**0.004), 0.9 * (1 - 0.5 * 0.96**0.008)
    size = 0.1 + 0.1 * mu2 * 0.1 / (1 - mu1 * mu2)
    np.testing.assert_allclose(p.array, [-size, size], rtol=1e-6)
    assert opt.state[p]["mu_product"] == pytest.approx(mu1)
