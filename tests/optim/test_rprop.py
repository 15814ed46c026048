"""Rprop follows torch.optim.Rprop: trajectory and state on a small MLP, arguments, errors, checkpoints."""

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import Rprop
from lamina.tensor import Tensor

torch = pytest.importorskip("torch")

CONFIGS = {
    "default": dict(),
    "lr": dict(lr=0.001),
    "etas": dict(lr=0.005, etas=(0.3, 1.5)),
    "step_sizes": dict(lr=0.01, step_sizes=(1e-3, 0.02)),  # both clamps are reached
    "maximize": dict(lr=0.001, step_sizes=(1e-6, 0.005), maximize=True),  # the loss grows without bound: go slowly
    "maximize_everything": dict(lr=0.002, etas=(0.4, 1.1), step_sizes=(1e-4, 0.01), maximize=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_rprop_matches_torch(name, dtype, same_trajectory, same_state):
    kw = CONFIGS[name]
    ours, theirs = same_trajectory(lambda p: Rprop(p, **kw), lambda p: torch.optim.Rprop(p, **kw), dtype=dtype)
    same_state(ours, theirs, *((1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)))


def test_rprop_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.002, "etas": (0.3, 1.3)}, {"params": p[2:]}]  # noqa: E731
    same_trajectory(lambda g: Rprop(g, lr=0.005), lambda g: torch.optim.Rprop(g, lr=0.005), groups=groups)


@pytest.mark.parametrize("name", CONFIGS)
def test_rprop_resumes_from_its_state_dict(name, resumes_identically):
    resumes_identically(lambda p: Rprop(p, **CONFIGS[name]))


def test_rprop_signature_is_torchs(torch_signature):
    torch_signature(Rprop, torch.optim.Rprop)


@pytest.mark.parametrize("kw, message", [
    (dict(lr=-1.0), r"Rprop: invalid lr=-1.0; it must be >= 0"),
    (dict(etas=(1.2, 0.5)), r"Rprop: invalid etas=\(1.2, 0.5\); they must be \(etaminus, etaplus\) with "
                            r"0 < etaminus < 1 < etaplus"),
    (dict(etas=(0.0, 1.2)), "etaminus"),
    (dict(etas=(0.5, 1.0)), "etaplus"),
])
def test_rprop_refuses_what_torch_refuses(kw, message):
    with pytest.raises(ValueError, match=message):
        Rprop([Parameter(np.zeros(2, np.float32))], **kw)
    with pytest.raises(ValueError):
        torch.optim.Rprop([torch.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError, match="Rprop: step_sizes must be a pair of numbers"):
        Rprop([Parameter(np.zeros(2, np.float32))], step_sizes=1e-6)


def test_rprop_worked_example():
    """Same sign: the step size grows by η₊; a sign flip: it shrinks by η₋, the coordinate stays and its g counts
    as 0, so the next step neither grows nor shrinks it."""
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = Rprop([p], lr=0.1, etas=(0.5, 2.0))
    for g in ([1.0, 1.0], [1.0, -1.0], [1.0, -1.0]):
        p.grad = Tensor(np.array(g, dtype=np.float32))
        opt.step()
    # coordinate 0: −0.1, −0.2, −0.4; coordinate 1: −0.1, stays (flip; step size 0.05), then +0.05
    np.testing.assert_allclose(p.array, [-0.7, -0.05], rtol=1e-6)
    np.testing.assert_allclose(opt.state[p]["step_size"], [0.4, 0.05], rtol=1e-6)
    np.testing.assert_array_equal(opt.state[p]["prev"], [1.0, -1.0])
