"""RMSprop follows torch.optim.RMSprop's parameter trajectory on a small MLP."""

import numpy as np
import pytest

from lamina.optim import RMSprop

torch = pytest.importorskip("torch")

CONFIGS = {
    "plain": dict(lr=0.01),
    "alpha_eps": dict(lr=0.002, alpha=0.9, eps=1e-6),
    "momentum": dict(lr=0.002, momentum=0.9),
    "centered": dict(lr=0.005, centered=True),
    "centered_momentum": dict(lr=0.002, centered=True, momentum=0.5),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
    "everything": dict(lr=0.002, alpha=0.95, momentum=0.7, centered=True, weight_decay=0.05),
    "maximize": dict(lr=0.001, maximize=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_rmsprop_matches_torch(name, dtype, same_trajectory):
    kw = CONFIGS[name]
    same_trajectory(lambda p: RMSprop(p, **kw), lambda p: torch.optim.RMSprop(p, **kw), dtype=dtype)


def test_rmsprop_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.02, "centered": True}, {"params": p[2:]}]  # noqa: E731
    same_trajectory(lambda g: RMSprop(g, lr=0.005), lambda g: torch.optim.RMSprop(g, lr=0.005), groups=groups)


def test_rmsprop_first_step_worked_example():
    """t = 1: v = (1−α)g², so the step is η·g/(√(1−α)|g| + ε)."""
    from lamina.nn.parameter import Parameter
    from lamina.tensor import Tensor

    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = RMSprop([p], lr=0.01, alpha=0.75)
    p.grad = Tensor(np.array([2.0, -4.0], dtype=np.float32))
    opt.step()
    np.testing.assert_allclose(p.array, [-0.02, 0.02], rtol=1e-5)  # √0.25 = 0.5
