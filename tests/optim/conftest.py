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


def assert_same_state(ours, theirs, rtol=1e-4, atol=1e-5, looser=None):
    """The two optimizers' state_dicts have the same structure (torch's keys) and the same values.

    Arrays and torch tensors are compared to ``rtol``/``atol`` (``looser`` maps a key to its own (rtol, atol));
    lists entry by entry.
    """
    import torch

    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    assert set(sd["state"]) == set(tsd["state"])
    for i, state in sd["state"].items():
        theirs_i = tsd["state"][i]
        assert set(state) == set(theirs_i), f"state keys of parameter {i}"
        for key, value in state.items():
            tolerances = (looser or {}).get(key, (rtol, atol))
            _assert_close(value, theirs_i[key], torch, *tolerances, f"state '{key}' of parameter {i}")


def _assert_close(value, expected, torch, rtol, atol, what):
    if isinstance(expected, list):
        assert isinstance(value, list) and len(value) == len(expected), what
        for j, (a, b) in enumerate(zip(value, expected)):
            _assert_close(a, b, torch, rtol, atol, f"{what}[{j}]")
        return
    if expected is None:
        assert value is None, what
        return
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    if isinstance(value, np.ndarray) and value.ndim:
        assert value.dtype == np.asarray(expected).dtype, what
    np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol, err_msg=what)


def assert_resumes_identically(make_opt, steps=(6, 6), closure=False):
    """Train ``steps[0]`` steps, save the state_dict, load it into a fresh optimizer on a copy of the model and
    train ``steps[1]`` more: the parameters and the state end bit for bit where an uninterrupted run ends.

    The saved dict goes through a deep copy (nothing shared with the live optimizer) and JSON-like plain data:
    arrays as nested lists, so the loaded state is rebuilt from numbers alone.
    """
    import copy

    def run(twin, opt, n):
        for _ in range(n):
            if closure:
                opt.step(lambda: _closure(opt, twin))
            else:
                train(opt, twin.loss, 1)

    straight = TwinMLP()
    opt_straight = make_opt(straight.params)
    run(straight, opt_straight, sum(steps))

    first = TwinMLP()
    opt = make_opt(first.params)
    run(first, opt, steps[0])
    saved = _as_plain_data(copy.deepcopy(opt.state_dict()))
    resumed = TwinMLP()
    for p, w in zip(resumed.params, first.arrays()):
        p.array[...] = w
    opt2 = make_opt(resumed.params)
    opt2.load_state_dict(saved)
    run(resumed, opt2, steps[1])

    for a, b in zip(resumed.arrays(), straight.arrays()):
        np.testing.assert_array_equal(a, b)
    sd, sd_straight = opt2.state_dict(), opt_straight.state_dict()
    assert set(sd["state"]) == set(sd_straight["state"])
    for i, state in sd_straight["state"].items():
        assert set(sd["state"][i]) == set(state)
        for key, value in state.items():
            got = sd["state"][i][key]
            if isinstance(value, list):
                assert len(got) == len(value)
                for a, b in zip(got, value):
                    assert type(a) is type(b)
                    np.testing.assert_array_equal(a, b) if b is not None else None
            else:
                assert type(got) is type(value), key
                np.testing.assert_array_equal(got, value)
                if isinstance(value, np.ndarray):
                    assert got.dtype == value.dtype


def _closure(opt, twin):
    opt.zero_grad()
    loss = twin.loss()
    loss.backward()
    return loss


def _as_plain_data(value):
    if isinstance(value, dict):
        return {k: _as_plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_as_plain_data(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


@pytest.fixture
def same_state():
    return assert_same_state


@pytest.fixture
def resumes_identically():
    return assert_resumes_identically


def assert_torch_signature(ours, theirs, not_here=("capturable", "differentiable")):
    """``ours`` takes torch's arguments, in torch's order, of the same kind (positional or keyword-only) and with
    the same defaults; only the arguments in ``not_here`` (GPU and autograd-through-the-step options) are left out."""
    import inspect

    mine = inspect.signature(ours).parameters
    torch_params = [p for name, p in inspect.signature(theirs).parameters.items() if name not in not_here]
    assert list(mine) == [p.name for p in torch_params]
    for p in torch_params:
        assert mine[p.name].kind == p.kind, p.name
        assert mine[p.name].default == p.default, p.name


@pytest.fixture
def torch_signature():
    return assert_torch_signature


@pytest.fixture
def torch_scalars(request):
    """torch keeps some optimizer scalars (NAdam's mu_product, ASGD's eta and mu) in its default dtype: float64 runs
    compare with a float64 default."""
    torch = pytest.importorskip("torch")
    dtype = request.node.callspec.params["dtype"]
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    yield
    torch.set_default_dtype(old)
