"""A 4-8-3 tanh MLP with fixed seeded data, built twice from the same arrays: in lamina and in PyTorch."""

import numpy as np
import pytest

from lamina.nn.functional import linear
from lamina.nn.parameter import Parameter
from lamina.tensor import Tensor


class TwinMLP:
    """Parameters W1 (8, 4), b1 (8,), W2 (3, 8), b2 (3,) and a batch of 16 (x, y); MSE loss."""

    def __init__(self, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.initial = [
            rng.normal(0, 0.5, (8, 4)).astype(dtype),
            rng.normal(0, 0.1, (8,)).astype(dtype),
            rng.normal(0, 0.5, (3, 8)).astype(dtype),
            rng.normal(0, 0.1, (3,)).astype(dtype),
        ]
        self.x = rng.normal(size=(16, 4)).astype(dtype)
        self.y = rng.normal(size=(16, 3)).astype(dtype)
        self.params = [Parameter(a.copy()) for a in self.initial]

    def loss(self):
        w1, b1, w2, b2 = self.params
        out = linear(linear(Tensor(self.x), w1, b1).tanh(), w2, b2)
        return ((out - Tensor(self.y)) ** 2).mean()

    def arrays(self):
        return [p.array.copy() for p in self.params]

    # -- the PyTorch twin ----------------------------------------------------------------------
    def torch_params(self):
        torch = pytest.importorskip("torch")
        self._tp = [torch.tensor(a.copy(), requires_grad=True) for a in self.initial]
        return self._tp

    def torch_loss(self):
        torch = pytest.importorskip("torch")
        F = torch.nn.functional
        w1, b1, w2, b2 = self._tp
        out = F.linear(torch.tanh(F.linear(torch.from_numpy(self.x), w1, b1)), w2, b2)
        return ((out - torch.from_numpy(self.y)) ** 2).mean()

    def torch_arrays(self):
        return [p.detach().numpy().copy() for p in self._tp]


def train(optimizer, loss_fn, steps):
    """``steps`` iterations of zero_grad / backward / step."""
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()


def assert_same_trajectory(make_ours, make_torch, groups=None, checkpoints=(1, 10, 50, 100), dtype=np.float32):
    """Train the lamina MLP and its torch twin side by side; compare all parameters at each checkpoint.

    ``groups`` (optional) maps the four parameters to param-group dicts: a function of the parameter list.
    In float64 the tolerance is tight: the update formulas must agree, not just roughly.
    """
    rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-10, 1e-12)
    twin = TwinMLP(dtype=dtype)
    tp = twin.torch_params()
    ours = make_ours(groups(twin.params) if groups else twin.params)
    theirs = make_torch(groups(tp) if groups else tp)
    done = 0
    for stop in checkpoints:
        train(ours, twin.loss, stop - done)
        train(theirs, twin.torch_loss, stop - done)
        done = stop
        for i, (a, b) in enumerate(zip(twin.arrays(), twin.torch_arrays())):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"parameter {i} after {stop} steps")
    moved = max(np.abs(a - b).max() for a, b in zip(twin.arrays(), twin.initial))
    assert moved > 1e-3, "the parameters barely moved: the comparison would prove nothing"
    return ours, theirs


# Test files get these helpers as fixtures (robust whether or not tests/ is a package).
@pytest.fixture
def make_twin():
    return TwinMLP


@pytest.fixture
def run_steps():
    return train


@pytest.fixture
def same_trajectory():
    return assert_same_trajectory
