"""RAdam follows torch.optim.RAdam: trajectory and state on a small MLP, arguments, errors, checkpoints."""

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import RAdam
from lamina.tensor import Tensor

torch = pytest.importorskip("torch")

CONFIGS = {
    "default": dict(lr=0.01),
    "betas_eps": dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),  # ρₜ > 5 from step 6 on
    "slow_beta2": dict(lr=0.01, betas=(0.9, 0.9999)),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
    "decoupled_weight_decay": dict(lr=0.01, weight_decay=0.3, decoupled_weight_decay=True),
    "maximize": dict(lr=0.002, maximize=True),
    "maximize_weight_decay": dict(lr=0.002, maximize=True, weight_decay=0.1),
    "maximize_decoupled": dict(lr=0.002, maximize=True, weight_decay=0.1, decoupled_weight_decay=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_radam_matches_torch(name, dtype, same_trajectory, same_state):
    kw = CONFIGS[name]
    ours, theirs = same_trajectory(lambda p: RAdam(p, **kw), lambda p: torch.optim.RAdam(p, **kw), dtype=dtype)
    same_state(ours, theirs, *((1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)))


def test_radam_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.02, "decoupled_weight_decay": True},  # noqa: E731
                        {"params": p[2:], "betas": (0.8, 0.99)}]
    same_trajectory(lambda g: RAdam(g, lr=0.01, weight_decay=0.1),
                    lambda g: torch.optim.RAdam(g, lr=0.01, weight_decay=0.1), groups=groups)


@pytest.mark.parametrize("name", CONFIGS)
def test_radam_resumes_from_its_state_dict(name, resumes_identically):
    resumes_identically(lambda p: RAdam(p, **CONFIGS[name]))


def test_radam_signature_is_torchs(torch_signature):
    torch_signature(RAdam, torch.optim.RAdam)


@pytest.mark.parametrize("kw, message", [
    (dict(lr=-1.0), r"RAdam: invalid lr=-1.0; it must be >= 0"),
    (dict(betas=(1.0, 0.999)), r"RAdam: invalid betas\[0\]=1.0; it must be in \[0.0, 1.0\)"),
    (dict(betas=(0.9, 1.5)), r"betas\[1\]"),
    (dict(eps=-1e-8), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"),
])
def test_radam_refuses_what_torch_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        RAdam([Parameter(np.zeros(2, np.float32))], **kw)
    with pytest.raises(ValueError):
        torch.optim.RAdam([torch.zeros(2, requires_grad=True)], **kw)


def test_radam_starts_as_momentum_sgd():
    """While ρₜ ≤ 5 (the first 5 steps with β₂ = 0.999) the step is η·m̂: with a constant g, m̂ = g."""
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = RAdam([p], lr=0.1)
    for t in range(1, 6):
        p.grad = Tensor(np.array([2.0, -1.0], dtype=np.float32))
        opt.step()
        np.testing.assert_allclose(p.array, [-0.2 * t, 0.1 * t], rtol=1e-5)
