"""Adadelta follows torch.optim.Adadelta: trajectory and state on a small MLP, arguments, errors, checkpoints."""

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import Adadelta
from lamina.tensor import Tensor

torch = pytest.importorskip("torch")

CONFIGS = {
    "default": dict(),
    "lr_rho_eps": dict(lr=0.5, rho=0.8, eps=1e-5),
    "weight_decay": dict(lr=1.0, weight_decay=0.1),
    "maximize": dict(lr=0.1, maximize=True),
    "maximize_weight_decay": dict(lr=0.1, rho=0.95, maximize=True, weight_decay=0.1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_adadelta_matches_torch(name, dtype, same_trajectory, same_state):
    kw = CONFIGS[name]
    ours, theirs = same_trajectory(lambda p: Adadelta(p, **kw), lambda p: torch.optim.Adadelta(p, **kw), dtype=dtype)
    same_state(ours, theirs, *((1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)))


def test_adadelta_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.5, "rho": 0.5}, {"params": p[2:], "weight_decay": 0.1}]  # noqa: E731
    same_trajectory(lambda g: Adadelta(g), lambda g: torch.optim.Adadelta(g), groups=groups)


@pytest.mark.parametrize("name", CONFIGS)
def test_adadelta_resumes_from_its_state_dict(name, resumes_identically):
    resumes_identically(lambda p: Adadelta(p, **CONFIGS[name]))


def test_adadelta_signature_is_torchs(torch_signature):
    torch_signature(Adadelta, torch.optim.Adadelta)


@pytest.mark.parametrize("kw, message", [
    (dict(lr=-1.0), r"Adadelta: invalid lr=-1.0; it must be >= 0"),
    (dict(rho=1.5), r"Adadelta: invalid rho=1.5; it must be in \[0.0, 1.0\]"),
    (dict(rho=-0.1), "rho"),
    (dict(eps=-1e-6), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"),
])
def test_adadelta_refuses_what_torch_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        Adadelta([Parameter(np.zeros(2, np.float32))], **kw)
    with pytest.raises(ValueError):
        torch.optim.Adadelta([torch.zeros(2, requires_grad=True)], **kw)
    Adadelta([Parameter(np.zeros(2, np.float32))], rho=1.0)  # the closed end, as torch


def test_adadelta_first_step_worked_example():
    """t = 1: v = (1−ρ)g², u = 0, so Δ = g·√ε/√((1−ρ)g² + ε)."""
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = Adadelta([p], lr=1.0, rho=0.75, eps=1e-6)
    p.grad = Tensor(np.array([2.0, -4.0], dtype=np.float32))
    opt.step()
    g = np.array([2.0, -4.0])
    delta = g * np.sqrt(1e-6) / np.sqrt(0.25 * g**2 + 1e-6)
    np.testing.assert_allclose(p.array, -delta, rtol=1e-5)
    np.testing.assert_allclose(opt.state[p]["acc_delta"], 0.25 * delta**2, rtol=1e-5)
