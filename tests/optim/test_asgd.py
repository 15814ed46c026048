"""ASGD follows torch.optim.ASGD: trajectory, averaged parameters and state on a small MLP; arguments, errors,
checkpoints."""

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import ASGD
from lamina.tensor import Tensor

torch = pytest.importorskip("torch")

CONFIGS = {
    "default": dict(),
    "lr": dict(lr=0.1),
    "averaging": dict(lr=0.1, t0=5),  # μ = 1/(t − t₀) after step 6: a real running average
    "lambd_alpha": dict(lr=0.2, lambd=0.01, alpha=0.5, t0=20),
    "weight_decay": dict(lr=0.1, weight_decay=0.1, t0=10),
    "maximize": dict(lr=0.01, maximize=True, t0=10),
    "maximize_weight_decay": dict(lr=0.01, maximize=True, weight_decay=0.1, lambd=0.001),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_asgd_matches_torch(name, dtype, same_trajectory, same_state, torch_scalars):
    kw = CONFIGS[name]
    ours, theirs = same_trajectory(lambda p: ASGD(p, **kw), lambda p: torch.optim.ASGD(p, **kw), dtype=dtype)
    same_state(ours, theirs, *((1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)))


def test_asgd_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.2, "t0": 3}, {"params": p[2:], "lambd": 0.01}]  # noqa: E731
    same_trajectory(lambda g: ASGD(g, lr=0.1), lambda g: torch.optim.ASGD(g, lr=0.1), groups=groups)


@pytest.mark.parametrize("name", CONFIGS)
def test_asgd_resumes_from_its_state_dict(name, resumes_identically):
    resumes_identically(lambda p: ASGD(p, **CONFIGS[name]), steps=(10, 10))


def test_asgd_signature_is_torchs(torch_signature):
    torch_signature(ASGD, torch.optim.ASGD)


@pytest.mark.parametrize("kw, message", [
    (dict(lr=-1.0), r"ASGD: invalid lr=-1.0; it must be >= 0"),
    (dict(weight_decay=-0.1), "ASGD: invalid weight_decay"),
])
def test_asgd_refuses_what_torch_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        ASGD([Parameter(np.zeros(2, np.float32))], **kw)
    with pytest.raises(ValueError):
        torch.optim.ASGD([torch.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(TypeError, match="ASGD: t0 must be a number"):
        ASGD([Parameter(np.zeros(2, np.float32))], t0="1e6")


def test_asgd_averages_the_iterates_after_t0():
    """With λ = 0 and a constant g the iterates are p_t = −tηg. μ_t = 1/max(1, t − 1 − t₀) is set at the end of the
    step before it, so with t₀ = 2 ax starts over at step 4 and is the mean of the iterates from step 4 on."""
    p = Parameter(np.zeros(1, dtype=np.float32))
    opt = ASGD([p], lr=0.5, lambd=0.0, t0=2)
    iterates = []
    for _ in range(8):
        p.grad = Tensor(np.ones(1, dtype=np.float32))
        opt.step()
        iterates.append(p.array[0])
    np.testing.assert_allclose(iterates, -0.5 * np.arange(1, 9), rtol=1e-6)
    np.testing.assert_allclose(opt.state[p]["ax"], [np.mean(iterates[3:])], rtol=1e-6)
    assert opt.state[p]["eta"] == 0.5 and opt.state[p]["mu"] == 1 / 6
