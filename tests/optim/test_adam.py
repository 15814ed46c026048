"""Adam and AdamW follow torch.optim.Adam / AdamW's parameter trajectories on a small MLP."""

import math

import numpy as np
import pytest

from lamina.optim import Adam, AdamW

torch = pytest.importorskip("torch")

ADAM = {
    "default": dict(lr=0.01),
    "betas_eps": dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
    "amsgrad": dict(lr=0.01, amsgrad=True),
    "amsgrad_weight_decay": dict(lr=0.01, amsgrad=True, weight_decay=0.05),
    "maximize": dict(lr=0.002, maximize=True),
    "maximize_weight_decay": dict(lr=0.002, maximize=True, weight_decay=0.1),
}
ADAMW = {
    "default": dict(lr=0.01),
    "weight_decay": dict(lr=0.01, weight_decay=0.3),
    "amsgrad": dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    "maximize": dict(lr=0.002, maximize=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ADAM)
def test_adam_matches_torch(name, dtype, same_trajectory):
    kw = ADAM[name]
    same_trajectory(lambda p: Adam(p, **kw), lambda p: torch.optim.Adam(p, **kw), dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ADAMW)
def test_adamw_matches_torch(name, dtype, same_trajectory):
    kw = ADAMW[name]
    same_trajectory(lambda p: AdamW(p, **kw), lambda p: torch.optim.AdamW(p, **kw), dtype=dtype)


def test_adam_per_group_options_match_torch(same_trajectory):
    groups = lambda p: [{"params": p[:2], "lr": 0.03, "betas": (0.8, 0.9)}, {"params": p[2:], "amsgrad": True}]  # noqa: E731
    same_trajectory(lambda g: Adam(g, lr=0.005), lambda g: torch.optim.Adam(g, lr=0.005), groups=groups)


def test_adam_first_step_worked_example():
    """At t = 1, m̂ = g and v̂ = g², so the step is α·g/(|g| + ε) ≈ α·sign(g)."""
    from lamina.nn.parameter import Parameter
    from lamina.tensor import Tensor

    p = Parameter(np.array([1.0, 1.0, 1.0], dtype=np.float32))
    opt = Adam([p], lr=0.1)
    p.grad = Tensor(np.array([3.0, -0.5, 0.0], dtype=np.float32))
    opt.step()
    np.testing.assert_allclose(p.array, [0.9, 1.1, 1.0], rtol=1e-6)
    # second step with the same gradient: m̂ = g, v̂ = g² again
    opt.step()
    np.testing.assert_allclose(p.array, [0.8, 1.2, 1.0], rtol=1e-6)
    state = opt.state[p]
    assert state["step"] == 2
    np.testing.assert_allclose(state["exp_avg"], [0.1 * 3 * 1.9, -0.05 * 1.9, 0], rtol=1e-6)
    np.testing.assert_allclose(state["exp_avg_sq"], [9 * (1 - 0.999**2), 0.25 * (1 - 0.999**2), 0], rtol=1e-5)
    assert all(a.dtype == np.float32 for a in (state["exp_avg"], state["exp_avg_sq"]))


def test_adamw_decay_is_decoupled():
    """With a zero gradient, AdamW only shrinks p by (1 − αλ) each step; Adam's L2 decay moves p by ≈ α."""
    from lamina.nn.parameter import Parameter
    from lamina.tensor import Tensor

    p, q = (Parameter(np.full(2, 2.0, dtype=np.float32)) for _ in range(2))
    adamw, adam = AdamW([p], lr=0.1, weight_decay=0.5), Adam([q], lr=0.1, weight_decay=0.5)
    for _ in range(3):
        p.grad = Tensor(np.zeros(2, dtype=np.float32))
        q.grad = Tensor(np.zeros(2, dtype=np.float32))
        adamw.step()
        adam.step()
    np.testing.assert_allclose(p.array, 2.0 * 0.95**3, rtol=1e-6)
    np.testing.assert_allclose(q.array, 2.0 - 0.3, atol=1e-3)  # the L2 gradient λp is Adam-normalised to ≈ 1
    assert not math.isclose(p.array[0], q.array[0])
