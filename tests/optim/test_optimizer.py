"""The Optimizer base: parameter groups, zero_grad, step(closure), skipped parameters, dtypes, validation."""

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import ASGD, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, Optimizer, RAdam, RMSprop, Rprop
from lamina.tensor import Tensor

ALL = {
    "SGD": lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "SGD_nesterov": lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True, maximize=True),
    "Adam": lambda p: Adam(p, lr=0.01, weight_decay=0.01, amsgrad=True),
    "Adam_maximize": lambda p: Adam(p, lr=0.01, maximize=True),
    "AdamW": lambda p: AdamW(p, lr=0.01, amsgrad=True),
    "RMSprop": lambda p: RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
    "Adagrad": lambda p: Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1, maximize=True),
    "Adadelta": lambda p: Adadelta(p, weight_decay=0.1),
    "Adamax": lambda p: Adamax(p, weight_decay=0.1, maximize=True),
    "NAdam": lambda p: NAdam(p, weight_decay=0.1, decoupled_weight_decay=True),
    "RAdam": lambda p: RAdam(p, weight_decay=0.1),
    "ASGD": lambda p: ASGD(p, t0=1, weight_decay=0.1),
    "Rprop": lambda p: Rprop(p, maximize=True),
}


def test_zero_grad_sets_to_none_by_default(make_twin):
    twin = make_twin()
    opt = SGD(twin.params, lr=0.1)
    twin.loss().backward()
    assert all(p.grad is not None for p in twin.params)
    opt.zero_grad()
    assert all(p.grad is None for p in twin.params)
    opt.zero_grad()  # no gradients: nothing to do


def test_zero_grad_set_to_none_false_zero_fills_in_place(make_twin):
    twin = make_twin()
    opt = SGD(twin.params, lr=0.1)
    twin.loss().backward()
    grads = [p.grad for p in twin.params]
    arrays = [g.array for g in grads]
    opt.zero_grad(set_to_none=False)
    for p, g, a in zip(twin.params, grads, arrays):
        assert p.grad is g and p.grad.array is a
        assert not a.any() and a.dtype == np.float32
    twin.loss().backward()  # accumulates into the zeroed buffers
    assert all(p.grad.array is a and a.any() for p, a in zip(twin.params, arrays))


def test_step_with_closure_returns_the_loss_as_torch(make_twin):
    torch = pytest.importorskip("torch")
    twin = make_twin()
    tp = twin.torch_params()
    opt, topt = SGD(twin.params, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = twin.loss()
        loss.backward()
        return loss

    def torch_closure():
        topt.zero_grad()
        loss = twin.torch_loss()
        loss.backward()
        return loss

    for _ in range(5):
        loss, tloss = opt.step(closure), topt.step(torch_closure)
        assert isinstance(loss, Tensor)
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
    assert len(calls) == 5
    for a, b in zip(twin.arrays(), twin.torch_arrays()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert opt.step() is None  # no closure, no loss


def test_step_closure_runs_with_grad_enabled(make_twin):
    import lamina

    twin = make_twin()
    opt = Adam(twin.params, lr=0.01)

    def closure():
        loss = twin.loss()
        assert lamina.is_grad_enabled()
        loss.backward()
        return loss

    with lamina.no_grad():
        assert opt.step(closure).requires_grad


@pytest.mark.parametrize("name", ALL)
def test_parameters_without_grad_are_skipped(name, make_twin):
    twin = make_twin()
    frozen = Parameter(np.ones((2, 2), np.float32))
    opt = ALL[name](twin.params + [frozen])
    for _ in range(3):
        opt.zero_grad()
        twin.loss().backward()  # frozen is not in the graph: its grad stays None
        opt.step()
    np.testing.assert_array_equal(frozen.array, np.ones((2, 2), np.float32))
    saved = opt.state_dict()["state"]
    if name == "Adagrad":  # torch's Adagrad creates every parameter's state up front, untouched here
        assert saved[4]["step"] == 0
    else:
        assert 4 not in saved and set(saved) == {0, 1, 2, 3}


@pytest.mark.parametrize("name", ALL)
def test_dtype_stays_float32_and_grads_are_not_modified(name, make_twin):
    twin = make_twin()
    opt = ALL[name](twin.params)
    for _ in range(3):
        opt.zero_grad()
        twin.loss().backward()
        grads = [p.grad.array.copy() for p in twin.params]
        opt.step()
        for p, g in zip(twin.params, grads):
            np.testing.assert_array_equal(p.grad.array, g)  # the update never writes into .grad
    for p in twin.params:
        assert p.array.dtype == np.float32
        for key, value in opt.state[p].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32 and value.shape == p.shape, key
                assert not np.shares_memory(value, p.array) and not np.shares_memory(value, p.grad.array)
            else:  # plain numbers: the step count, and NAdam's mu_product, ASGD's eta and mu
                assert isinstance(value, int if key == "step" else float), key


@pytest.mark.parametrize("name", ALL)
def test_float64_parameters_keep_float64_state(name, make_twin):
    twin = make_twin(dtype=np.float64)
    opt = ALL[name](twin.params)
    twin.loss().backward()
    opt.step()
    for p in twin.params:
        assert p.array.dtype == np.float64
        assert all(v.dtype == np.float64 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_state_arrays_do_not_alias_between_parameters_of_equal_shape():
    a, b = Parameter(np.zeros(3, np.float32)), Parameter(np.zeros(3, np.float32))
    opt = SGD([a, b], lr=1.0, momentum=0.5)
    a.grad, b.grad = Tensor(np.ones(3, np.float32)), Tensor(np.full(3, 2.0, np.float32))
    opt.step()
    opt.step()
    np.testing.assert_array_equal(a.array, -2.5)  # b: 1, then 1.5
    np.testing.assert_array_equal(b.array, -5.0)


def test_param_groups_take_defaults_and_keep_their_own_options():
    p1, p2, p3 = (Parameter(np.zeros(2, np.float32)) for _ in range(3))
    opt = Adam([{"params": [p1]}, {"params": p2, "lr": 0.5, "betas": (0.5, 0.9)}], lr=0.01, weight_decay=0.1)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.01 and g0["betas"] == (0.9, 0.999) and g0["params"] == [p1]
    assert g1["lr"] == 0.5 and g1["betas"] == (0.5, 0.9) and g1["weight_decay"] == 0.1 and g1["params"] == [p2]
    assert opt.defaults["lr"] == 0.01
    opt.add_param_group({"params": [p3], "amsgrad": True})
    assert opt.param_groups[2]["amsgrad"] and opt.param_groups[2]["lr"] == 0.01
    for p, value in zip((p1, p2, p3), (1.0, 2.0, 3.0)):
        p.grad = Tensor(np.full(2, value, np.float32))
    opt.step()
    assert set(opt.state) == {p1, p2, p3} and "max_exp_avg_sq" in opt.state[p3]
    np.testing.assert_allclose(p2.array, -0.5, rtol=1e-5)  # first Adam step moves each coordinate by lr


def test_named_parameters_are_accepted_as_torch():
    w, b = Parameter(np.zeros((2, 2), np.float32)), Parameter(np.zeros(2, np.float32))
    opt = SGD([("layer.weight", w), ("layer.bias", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [w, b]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight", "layer.bias"]


def test_repr_lists_the_groups():
    opt = SGD([Parameter(np.zeros(2, np.float32))], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text and "lr: 0.1" in text


def test_bad_params_are_refused_clearly():
    p = Parameter(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 is ndarray"):
        SGD([p, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="same parameter twice"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="'params'"):
        SGD([{"lr": 0.1}])
    opt = SGD([p], lr=0.1)
    p.grad = Tensor(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"shape \(2,\) has a gradient of shape \(3,\)"):
        opt.step()


BAD_HYPERPARAMETERS = [
    (SGD, dict(lr=-0.1), r"SGD: invalid lr=-0.1; it must be >= 0"),
    (SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (SGD, dict(lr=0.1, weight_decay=-1), "weight_decay"),
    (SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (Adam, dict(lr=-1e-3), "invalid lr"),
    (Adam, dict(betas=(1.0, 0.999)), r"invalid betas\[0\]=1.0; it must be in \[0.0, 1.0\)"),
    (Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (Adam, dict(betas=(0.9,)), "pair"),
    (Adam, dict(eps=-1e-8), "eps"),
    (AdamW, dict(weight_decay=-0.01), "AdamW: invalid weight_decay"),
    (RMSprop, dict(alpha=-0.5), "alpha"),
    (RMSprop, dict(momentum=-0.5), "momentum"),
    (RMSprop, dict(eps=-1.0), "eps"),
    (Adagrad, dict(lr_decay=-0.1), "lr_decay"),
    (Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
]


@pytest.mark.parametrize("cls, kw, message", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_clear_errors(cls, kw, message):
    with pytest.raises(ValueError, match=message):
        cls([Parameter(np.zeros(2, np.float32))], **kw)


def test_non_numeric_hyperparameters_raise_type_errors():
    with pytest.raises(TypeError, match="SGD: lr must be a number, got '0.1'"):
        SGD([Parameter(np.zeros(2, np.float32))], lr="0.1")
    with pytest.raises(TypeError, match=r"Adam: betas\[1\] must be a number"):
        Adam([Parameter(np.zeros(2, np.float32))], betas=(0.9, None))


def test_a_custom_optimizer_only_writes_update():
    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, dict(lr=lr))

        def _update(self, param, grad, state, group):
            param -= group["lr"] * np.sign(grad)

    p = Parameter(np.zeros(3, np.float32))
    opt = SignSGD([p], lr=0.5)
    p.grad = Tensor(np.array([2.0, -3.0, 0.0], np.float32))
    opt.step()
    np.testing.assert_array_equal(p.array, [-0.5, 0.5, 0.0])
    with pytest.raises(NotImplementedError, match="_update"):
        Optimizer([p], {}).step()


def test_trains_an_nn_module_from_parameters_and_named_parameters():
    import lamina
    from lamina import nn

    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    x = lamina.randn(32, 4)
    y = (x * lamina.tensor([1.0, -2.0, 0.5, 0.0])).sum(dim=1, keepdim=True)
    for opt in (Adam(model.parameters(), lr=0.02), SGD(model.named_parameters(), lr=0.05, momentum=0.9)):
        losses = []
        for _ in range(60):
            opt.zero_grad()
            loss = nn.MSELoss()(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("name", ALL)
def test_numpy_float64_hyperparameters_do_not_change_float32_math(name, make_twin):
    """np.float64 options (e.g. from np.logspace) must not switch the update to float64 loops."""
    results = []
    for numpy_scalars in (False, True):
        twin = make_twin()
        opt = ALL[name](twin.params)
        if numpy_scalars:
            for group in opt.param_groups:
                for key, value in group.items():
                    if isinstance(value, float):
                        group[key] = np.float64(value)
                    elif key == "betas":
                        group[key] = tuple(np.float64(b) for b in value)
        for _ in range(5):
            opt.zero_grad()
            twin.loss().backward()
            opt.step()
        results.append(twin.arrays())
    for a, b in zip(*results):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
