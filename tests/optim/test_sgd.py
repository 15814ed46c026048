"""SGD follows torch.optim.SGD's parameter trajectory on a small MLP."""

import numpy as np
import pytest

from lamina.optim import SGD

torch = pytest.importorskip("torch")

CONFIGS = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.05, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.9, dampening=0.3),
    "nesterov": dict(lr=0.05, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "momentum_weight_decay": dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True),
    "maximize": dict(lr=0.01, maximize=True),
    "maximize_momentum_decay": dict(lr=0.005, momentum=0.5, weight_decay=0.1, maximize=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CONFIGS)
def test_sgd_matches_torch(name, dtype, same_trajectory):
    kw = CONFIGS[name]
    same_trajectory(lambda p: SGD(p, **kw), lambda p: torch.optim.SGD(p, **kw), dtype=dtype)


def test_sgd_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.2, "momentum": 0.5}, {"params": p[2:]}]  # noqa: E731
    same_trajectory(lambda g: SGD(g, lr=0.05, momentum=0.9), lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9),
                    groups=groups)


def test_plain_sgd_is_w_minus_lr_grad(make_twin):
    twin = make_twin()
    opt = SGD(twin.params, lr=0.3)
    twin.loss().backward()
    expected = [p.array - np.float32(0.3) * p.grad.array for p in twin.params]
    opt.step()
    for p, e in zip(twin.params, expected):
        np.testing.assert_array_equal(p.array, e)
    assert len(opt.state_dict()["state"]) == 0  # no momentum, no state


def test_sgd_momentum_worked_example():
    from lamina.nn.parameter import Parameter
    from lamina.tensor import Tensor

    p = Parameter(np.array([1.0, -2.0], dtype=np.float32))
    opt = SGD([p], lr=0.5, momentum=0.9, dampening=0.5)
    for grad, expected in [([1.0, 2.0], [0.5, -3.0]),  # b = g = (1, 2)
                           ([1.0, 2.0], [-0.2, -4.4])]:  # b = 0.9·(1, 2) + 0.5·(1, 2) = (1.4, 2.8)
        p.grad = Tensor(np.array(grad, dtype=np.float32))
        opt.step()
        np.testing.assert_allclose(p.array, expected, rtol=1e-6)
