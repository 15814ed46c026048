"""Adagrad follows torch.optim.Adagrad's parameter trajectory on a small MLP."""

import numpy as np
import pytest

from lamina.optim import Adagrad

torch = pytest.importorskip("torch")

CONFIGS = {
    "plain": dict(lr=0.05),
    "lr_decay": dict(lr=0.1, lr_decay=0.05),
    "initial_accumulator_value": dict(lr=0.05, initial_accumulator_value=0.5),
    "weight_decay": dict(lr=0.05, weight_decay=0.1),
    "everything": dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.05, eps=1e-6),
    "maximize": dict(lr=0.005, maximize=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_adagrad_matches_torch(name, dtype, same_trajectory):
    kw = CONFIGS[name]
    same_trajectory(lambda p: Adagrad(p, **kw), lambda p: torch.optim.Adagrad(p, **kw), dtype=dtype)


def test_adagrad_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.2, "lr_decay": 0.1}, {"params": p[2:]}]  # noqa: E731
    same_trajectory(lambda g: Adagrad(g, lr=0.05), lambda g: torch.optim.Adagrad(g, lr=0.05), groups=groups)


def test_adagrad_worked_example():
    """s = 1 + 9 = 10 after one step of g = 3, and η_2 = η/(1 + lr_decay) on the second step."""
    from lamina.nn.parameter import Parameter
    from lamina.tensor import Tensor

    p = Parameter(np.zeros(1, dtype=np.float32))
    opt = Adagrad([p], lr=1.0, lr_decay=1.0, initial_accumulator_value=1.0, eps=0)
    assert opt.state[p]["step"] == 0 and opt.state[p]["sum"][0] == 1.0  # state exists from construction, as torch
    p.grad = Tensor(np.array([3.0], dtype=np.float32))
    opt.step()
    np.testing.assert_allclose(p.array, [-3 / np.sqrt(10)], rtol=1e-6)
    opt.step()
    np.testing.assert_allclose(p.array, [-3 / np.sqrt(10) - 0.5 * 3 / np.sqrt(19)], rtol=1e-6)
