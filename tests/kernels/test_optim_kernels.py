"""The optimizers' one-pass kernels (lamina.kernels.optim) give exactly the NumPy reference's results, bit for bit."""

import itertools

import numpy as np
import pytest

import lamina
from lamina import kernels, optim
from lamina.nn import Parameter

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


@pytest.fixture(autouse=True)
def kernels_on():
    with kernels.set_enabled(True):  # on, even under LAMINA_KERNELS=0
        yield

SHAPES = [(7, 5), (5,), (3, 7), (1,)]


def _run(make_opt, steps=25, order="C", grad_order=None):
    """``order``: the parameters' memory order (Linear keeps its weights in Fortran order); grads alike by default."""
    rng = np.random.default_rng(0)
    params = [Parameter(np.array(rng.standard_normal(s), np.float32, order=order)) for s in SHAPES]
    opt = make_opt(params)
    for _ in range(steps):
        for p in params:
            grad = np.array(rng.standard_normal(p.shape), np.float32, order=grad_order or order)
            p.grad = lamina.tensor(grad)
        opt.step()
    return [p.detach().numpy().copy() for p in params], opt.state_dict()["state"]


def _assert_identical(make):
    ref_params, ref_state = _run(lambda ps: make(ps, False))
    for order, grad_order in (("C", "C"), ("F", "F"), ("F", "C")):  # F with C grads: the NumPy path
        got_params, got_state = _run(lambda ps: make(ps, None), order=order, grad_order=grad_order)
        for a, b in zip(ref_params, got_params):
            np.testing.assert_array_equal(a, b, err_msg=order + grad_order)
        for idx, state in ref_state.items():
            for key, value in state.items():
                np.testing.assert_array_equal(np.asarray(value), np.asarray(got_state[idx][key]), err_msg=key)


def test_fortran_order_parameters_take_the_kernels_and_keep_their_order():
    f, c = np.zeros((3, 4), np.float32, order="F"), np.zeros((3, 4), np.float32)
    assert kernels.usable(f, f.copy(order="F")) and kernels.usable(c, c) and not kernels.usable(f, c)
    _, state = _run(lambda ps: optim.Adam(ps, lr=0.1), steps=1, order="F")
    assert state[0]["exp_avg"].flags.f_contiguous and not state[0]["exp_avg"].flags.c_contiguous


SGD_OPTIONS = [
    dict(momentum=m, dampening=d, nesterov=n, weight_decay=w, maximize=x)
    for m, d, n, w, x in itertools.product([0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.01], [False, True])
    if not (n and (m == 0 or d != 0))
]


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=[str(o) for o in SGD_OPTIONS])
def test_fused_sgd_equals_numpy_reference(options):
    _assert_identical(lambda ps, f: optim.SGD(ps, lr=0.05, fused=f, **options))


ADAM_OPTIONS = [
    dict(amsgrad=a, weight_decay=w, maximize=x)
    for a, w, x in itertools.product([False, True], [0.0, 0.02], [False, True])
]


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=[str(o) for o in ADAM_OPTIONS])
def test_fused_adam_equals_numpy_reference(cls, options):
    _assert_identical(lambda ps, f: cls(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, fused=f, **options))


def test_fused_is_skipped_for_float64_and_can_be_refused():
    p = Parameter(np.ones(3))  # float64: the NumPy path
    p.grad = lamina.tensor(np.ones(3))
    optim.Adam([p], lr=0.1).step()
    assert p.dtype == lamina.float64 and np.allclose(p.detach().numpy(), 0.9)
    with pytest.raises(TypeError, match="fused"):
        optim.SGD([p], lr=0.1, fused="yes")
    assert optim.Adam([p]).param_groups[0]["fused"] is None


def test_default_optimizers_take_the_fused_path(monkeypatch):
    calls = []
    for name in ("sgd_step", "adam_step"):
        original = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *a, _f=original, _n=name: (calls.append(_n), _f(*a)))
    _run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), steps=1)
    _run(lambda ps: optim.AdamW(ps, lr=0.1), steps=1)
    _run(lambda ps: optim.Adam(ps, lr=0.1, fused=False), steps=1)
    assert calls == ["sgd_step"] * len(SHAPES) + ["adam_step"] * len(SHAPES)


def test_the_kernel_switch_sends_every_optimizer_to_the_numpy_code(monkeypatch):
    calls = []
    for name in ("sgd_step", "adam_step"):
        monkeypatch.setattr(kernels, name, lambda *a, _n=name: calls.append(_n))
    with kernels.set_enabled(False):
        _run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, fused=True), steps=1)
        _run(lambda ps: optim.Adam(ps, lr=0.1, fused=True), steps=1)
    assert calls == []
