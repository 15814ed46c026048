"""LBFGS follows torch.optim.LBFGS, with and without the strong-Wolfe line search: the parameters, the returned
loss, the evaluation counts and the whole state (history lists included) after several steps; arguments, errors,
checkpoints."""

import copy

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import LBFGS
from lamina.tensor import Tensor

torch = pytest.importorskip("torch")

CONFIGS = {
    "default": dict(),
    "lr_max_iter": dict(lr=0.5, max_iter=5),
    "history_size": dict(history_size=3, max_iter=10),
    "tolerances": dict(max_iter=30, tolerance_grad=1e-3, tolerance_change=1e-4),  # stops early
    "strong_wolfe": dict(line_search_fn="strong_wolfe"),
    "strong_wolfe_history": dict(line_search_fn="strong_wolfe", history_size=2, max_iter=8),
    "strong_wolfe_max_eval": dict(line_search_fn="strong_wolfe", max_eval=12),  # the line search runs out
}


def closure_for(opt, loss_fn):
    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    return closure


def run_side_by_side(kw, dtype, steps, make_twin, same_state, tolerances, scalar_tolerances):
    twin = make_twin(dtype=dtype)
    tp = twin.torch_params()
    ours, theirs = LBFGS(twin.params, **kw), torch.optim.LBFGS(tp, **kw)
    for step in range(steps):
        loss = ours.step(closure_for(ours, twin.loss))
        tloss = theirs.step(closure_for(theirs, twin.torch_loss))
        assert isinstance(loss, Tensor) and loss.item() == pytest.approx(tloss.item(), rel=tolerances[0])
        for i, (a, b) in enumerate(zip(twin.arrays(), twin.torch_arrays())):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, *tolerances, err_msg=f"parameter {i} after {step + 1} steps")
        ours_state, torch_state = ours.state[twin.params[0]], theirs.state[tp[0]]
        assert (ours_state["func_evals"], ours_state["n_iter"]) == (torch_state["func_evals"], torch_state["n_iter"])
    # ro = 1/yᵢᵀsᵢ and al (the last two-loop recursion's coefficients sᵢᵀq/yᵢᵀsᵢ) come from cancelling sums
    same_state(ours, theirs, *tolerances, looser={"al": scalar_tolerances, "ro": scalar_tolerances})
    assert max(np.abs(a - b).max() for a, b in zip(twin.arrays(), twin.initial)) > 1e-2
    return ours


@pytest.mark.parametrize("name", CONFIGS)
def test_lbfgs_matches_torch_in_float64(name, make_twin, same_state):
    """In float64 every iteration is torch's: 3 steps of up to 20 iterations each agree to ~1e-9."""
    run_side_by_side(CONFIGS[name], np.float64, 3, make_twin, same_state, (1e-7, 1e-9), (1e-5, 1e-7))


@pytest.mark.parametrize("name", CONFIGS)
def test_lbfgs_matches_torch_in_float32(name, make_twin, same_state):
    """In float32 the parameters after a step of up to 20 iterations stay within 1e-3 of torch's, and ro and al
    within 1%: L-BFGS's curvature pairs (differences of gradients) amplify the rounding of the two libraries'
    dot products, so each iteration drifts further (float64 above shows the arithmetic is the same)."""
    run_side_by_side(CONFIGS[name], np.float32, 1, make_twin, same_state, (1e-3, 1e-4), (1e-2, 1e-3))


def test_lbfgs_state_has_torchs_keys_and_lives_on_the_first_parameter(make_twin):
    twin = make_twin()
    opt = LBFGS(twin.params, max_iter=4)
    opt.step(closure_for(opt, twin.loss))
    sd = opt.state_dict()
    assert set(sd["state"]) == {0}
    assert set(sd["state"][0]) == {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                                   "prev_flat_grad", "prev_loss", "al"}
    state = sd["state"][0]
    size = sum(p.array.size for p in twin.params)
    assert state["d"].shape == state["prev_flat_grad"].shape == (size,) and state["d"].dtype == np.float32
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 3
    assert all(isinstance(x, float) for x in [state["t"], state["H_diag"], state["prev_loss"], *state["ro"]])
    assert len(state["al"]) == 100 and state["al"][3] is None


@pytest.mark.parametrize("name", ["lr_max_iter", "history_size", "strong_wolfe_history"])
def test_lbfgs_resumes_from_its_state_dict(name, resumes_identically):
    kw = {**CONFIGS[name], "max_iter": 5}
    resumes_identically(lambda p: LBFGS(p, **kw), steps=(2, 2), closure=True)


def test_lbfgs_load_checks_the_flat_vectors(make_twin):
    twin = make_twin()
    opt = LBFGS(twin.params, max_iter=3)
    opt.step(closure_for(opt, twin.loss))
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][0]["old_dirs"][0] = np.zeros(7, np.float32)
    with pytest.raises(ValueError, match=r"state 'old_dirs' of parameter 0\[0\] has shape \(7,\) but the parameters "
                                         r"hold 67 numbers in all: expected shape \(67,\)"):
        LBFGS(twin.params, max_iter=3).load_state_dict(sd)


def test_lbfgs_signature_is_torchs(torch_signature):
    torch_signature(LBFGS, torch.optim.LBFGS)


def test_lbfgs_refuses_bad_arguments():
    p = Parameter(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"LBFGS: invalid lr=-1; it must be >= 0"):
        LBFGS([p], lr=-1)
    with pytest.raises(ValueError):
        torch.optim.LBFGS([torch.zeros(2, requires_grad=True)], lr=-1)
    with pytest.raises(ValueError, match="LBFGS: line_search_fn must be None or 'strong_wolfe', got 'wolfe'"):
        LBFGS([p], line_search_fn="wolfe")  # torch raises only at the first step
    with pytest.raises(ValueError, match="LBFGS: max_iter must be a positive integer, got 0"):
        LBFGS([p], max_iter=0)
    with pytest.raises(ValueError, match="history_size"):
        LBFGS([p], history_size=2.5)
    with pytest.raises(ValueError, match="per-parameter options"):
        LBFGS([{"params": [p]}, {"params": [Parameter(np.zeros(2, np.float32))]}])
    opt = LBFGS([p])
    with pytest.raises(ValueError, match="per-parameter options"):
        opt.add_param_group({"params": [Parameter(np.zeros(2, np.float32))]})
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        opt.step()


def test_lbfgs_solves_a_quadratic():
    """f(x) = ½xᵀAx − bᵀx in 2-D: L-BFGS with the strong-Wolfe line search reaches A⁻¹b in one step, and the
    closure runs with gradients on even inside no_grad."""
    import lamina

    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    x = Parameter(np.zeros(2))
    opt = LBFGS([x], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x * Tensor(a).matmul(x)).sum() - (Tensor(b) * x).sum()
        loss.backward()
        return loss

    with lamina.no_grad():
        opt.step(closure)
    np.testing.assert_allclose(x.array, np.linalg.solve(a, b), atol=1e-6)  # |∇f| ≤ tolerance_grad = 1e-7
    assert opt.state[x]["n_iter"] < 20  # converged before max_iter


def test_lbfgs_returns_at_once_at_a_minimum_and_leaves_gradless_parameters_alone():
    p, frozen = Parameter(np.ones(3, np.float32)), Parameter(np.ones(2, np.float32))
    opt = LBFGS([p, frozen])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(p.array, 0, atol=1e-6)
    np.testing.assert_array_equal(frozen.array, 1)  # no gradient: its part of the flat gradient is 0
    before = opt.state[p]["func_evals"]
    p.array[...] = 0
    opt.step(closure)  # the gradient is 0 <= tolerance_grad: one evaluation, no iteration
    assert opt.state[p]["func_evals"] == before + 1 and len(calls) == before + 1


def test_lbfgs_trains_nn_linear_layers_as_torch():
    """nn.Linear keeps its weight in Fortran order: the flat vector must still be in torch's (row-major) order."""
    import lamina
    from lamina import nn

    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    with torch.no_grad():
        for tp, p in zip(tmodel.parameters(), model.parameters()):
            tp.copy_(torch.from_numpy(np.ascontiguousarray(p.array)))
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(20, 1)).astype(np.float32)
    opt, topt = LBFGS(model.parameters(), max_iter=5), torch.optim.LBFGS(tmodel.parameters(), max_iter=5)
    loss_fn = lambda: ((model(Tensor(x)) - Tensor(y)) ** 2).mean()  # noqa: E731
    torch_loss_fn = lambda: ((tmodel(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()  # noqa: E731
    for _ in range(2):
        opt.step(closure_for(opt, loss_fn))
        topt.step(closure_for(topt, torch_loss_fn))
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.array, tp.detach().numpy(), rtol=1e-3, atol=1e-4)
