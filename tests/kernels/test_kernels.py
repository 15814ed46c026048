"""The kernels of lamina.kernels against their NumPy references, the ops with and without them, and the switch.

No torch here (one comparison with torch skips itself without it): these run where torch is not installed."""

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina import kernels
from lamina.nn import functional as F
from lamina.ops import loss, reduce, unary

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

SPECIAL = np.float32([np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 1e-30, 100.0, -100.0, 89.0,
                      -89.0, 0.5, -0.5, 3.0])


def values(n=4000, seed=0):
    """Ordinary values (several scales) followed by the special ones."""
    rng = np.random.default_rng(seed)
    return np.concatenate([(rng.standard_normal(n) * rng.choice([0.01, 1, 10, 100], n)).astype(np.float32), SPECIAL])


def same_bits(a, b):
    """Equal values, NaN where NaN, and the same sign of zero (a NaN's sign bit is meaningless)."""
    numbers = ~np.isnan(a)
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a[numbers]), np.signbit(b[numbers]))


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings(), kernels.set_enabled(True):  # on, even under LAMINA_KERNELS=0
        warnings.simplefilter("error")  # a kernel must not warn where its reference is silent
        yield


def test_arithmetic_kernels_are_bit_identical_to_numpy():
    z, g = values(seed=0), values(seed=1)
    a, s, r = np.tanh(z), unary.sigmoid_array(z), np.maximum(z, 0)
    with np.errstate(invalid="ignore"):  # inf·0: NaN and a warning from NumPy and from the ufunc kernels alike
        want = [g * (r > 0), g * (z > 0), g * (1 - a * a), g * s * (1 - s)]
        got = [kernels.relu_backward(g, r), kernels.relu_backward(g, z), kernels.tanh_backward(g, a),
               kernels.sigmoid_backward(g, s)]
    assert same_bits(kernels.relu(z), r)
    for a_kernel, a_numpy in zip(got, want):  # relu_backward(g, z): NaN and -0 in the saved output as well
        assert same_bits(a_kernel, a_numpy)


def test_sigmoid_kernel_matches_numpy_to_rounding():
    z = values()
    got, want = kernels.sigmoid(z), unary.sigmoid_array(z)
    np.testing.assert_allclose(got, want, rtol=2.5e-7, atol=0)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert kernels.sigmoid(np.float32([0, 100, -88])).tolist() == [0.5, 1.0, np.float32(1 / (1 + np.exp(88.0)))]


def exact_gelu(z):
    """gelu and its derivative in float64 from math.erfc (correctly rounded to about 1 ulp of a double)."""
    zd = z.astype(np.float64)
    cdf = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in zd])
    pdf = np.exp(-0.5 * zd * zd) / math.sqrt(2 * math.pi)
    return zd * cdf, cdf + zd * pdf, np.abs(cdf) + np.abs(zd * pdf)  # the last: the derivative's scale


def relative_error(got, want, scale):
    normal = np.abs(want) > 1e-37  # float32 subnormals hold fewer digits
    return np.max(np.abs(got[normal] - want[normal]) / np.abs(scale[normal]))


def test_gelu_kernel_and_numpy_code_are_accurate_everywhere_including_the_tails():
    z = np.concatenate([np.linspace(-14, 6, 40001), values()[:-len(SPECIAL)]]).astype(np.float32)
    want, want_grad, grad_scale = exact_gelu(z)
    out, grad = kernels.gelu(z)
    cdf, pdf = unary.normal_cdf_pdf(z)
    assert relative_error(out, want, want) < 6e-7  # float32 itself rounds to 6e-8; PyTorch's is off by 100% at z < -5.5
    assert relative_error(grad, want_grad, grad_scale) < 6e-7
    assert relative_error(z * cdf, want, want) < 2e-7  # the NumPy code (float64 inside)
    assert relative_error(cdf + z * pdf, want_grad, grad_scale) < 2e-7
    np.testing.assert_allclose(out, z * cdf, rtol=6e-7, atol=1e-37)


def test_gelu_kernel_special_values_match_the_numpy_code():
    z = SPECIAL
    out, grad = kernels.gelu(z)
    cdf, pdf = unary.normal_cdf_pdf(z)
    with np.errstate(invalid="ignore"):
        want, want_grad = z * cdf, cdf + z * pdf
    np.testing.assert_allclose(out, want, rtol=6e-7, atol=1e-44)
    np.testing.assert_allclose(grad, want_grad, rtol=6e-7, atol=1e-44)
    assert np.isnan(out[[0, 1, 5]]).all() and out[4] == np.inf and np.isnan(grad[4])  # gelu(−inf) NaN as PyTorch


def test_gelu_matches_torch_where_torch_is_accurate_and_gradchecks():
    torch = pytest.importorskip("torch")
    z = np.linspace(-5, 5, 2001, dtype=np.float32)
    x = lamina.tensor(z, requires_grad=True)
    F.gelu(x).sum().backward()
    t = torch.tensor(z, requires_grad=True)
    torch.nn.functional.gelu(t).sum().backward()
    np.testing.assert_allclose(F.gelu(lamina.tensor(z)).numpy(), torch.nn.functional.gelu(torch.tensor(z)).numpy(),
                               rtol=1e-6, atol=5e-7)  # PyTorch's erf is accurate to 1e-7 absolute
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=5e-7)
    z64 = lamina.tensor(np.linspace(-6, 4, 13), requires_grad=True)  # float64: the NumPy code
    assert lamina.autograd.gradcheck(lambda v: F.gelu(v), [z64])


def test_binary_cross_entropy_kernels_match_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(2000), [0, 1, 1e-40, 1 - 6e-8, 1e-8]]).astype(np.float32)
    y = np.concatenate([rng.random(2000), [1, 0, 1, 0, 0.5]]).astype(np.float32)
    log_x, log_1mx = loss._clamped_logs(x)
    want = -((log_x - log_1mx) * y + log_1mx)
    np.testing.assert_allclose(kernels.binary_cross_entropy(x, y), want, rtol=3e-7, atol=1e-6)
    assert kernels.binary_cross_entropy(np.float32([0.0]), np.float32([1.0]))[0] == 100  # log 0 clamped at −100
    bad = kernels.binary_cross_entropy(np.float32([-0.5, 1.5, np.nan]), np.float32([1, 0, 1]))
    assert np.isnan(bad).all()  # the caller reports these
    scale = np.float32(0.125)
    want = scale * (x - y) / np.maximum(x * (1 - x), 1e-12)
    assert same_bits(kernels.binary_cross_entropy_backward(x, y, scale), want)


@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_kernels_match_numpy(ignore_index):
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((33, 7)) * 10).astype(np.float32)
    z[0] = [80, -80, 0, 0, 0, 1e-30, 3]  # large spread: the max shift must keep exp finite
    t = rng.integers(0, 7, 33)
    logp = np.empty_like(z)
    total, kept = kernels.cross_entropy(z, t, ignore_index, logp)
    want = reduce.log_softmax_array(z, 1)
    np.testing.assert_allclose(logp, want, rtol=1e-6, atol=2e-6)
    rows = t != ignore_index
    assert kept == rows.sum()
    np.testing.assert_allclose(total, -want[np.arange(33), t][rows].sum(), rtol=1e-6)
    out = np.empty_like(z)
    kernels.cross_entropy_backward(logp, t, ignore_index, np.float32(0.5), out)
    expect = np.exp(want) * 0.5
    expect[np.arange(33), t] -= 0.5
    expect[~rows] = 0
    np.testing.assert_allclose(out, expect, rtol=1e-6, atol=1e-7)


# -- the ops: the same results with the kernels (float32, small) and with the NumPy code -------------------------
def without_kernels(fn):
    with kernels.set_enabled(False):
        return fn()


def run(make_loss, *inputs):
    leaves = [lamina.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    out = make_loss(*leaves)
    out.backward()
    return out.detach().numpy().copy(), [x.grad.numpy().copy() for x in leaves if x.requires_grad]


CASES = {
    "sigmoid": (lambda z: (z.sigmoid() * lamina.tensor(np.linspace(-1, 1, 12, dtype=np.float32))).sum(),),
    "tanh": (lambda z: (z.tanh() * lamina.tensor(np.linspace(-1, 1, 12, dtype=np.float32))).sum(),),
    "relu": (lambda z: (z.relu() * lamina.tensor(np.linspace(-1, 1, 12, dtype=np.float32))).sum(),),
    "gelu": (lambda z: (F.gelu(z) * lamina.tensor(np.linspace(-1, 1, 12, dtype=np.float32))).sum(),),
    "bce": (lambda z: F.binary_cross_entropy(z.sigmoid(), lamina.tensor(np.float32([0, 1] * 6))),),
    "cross_entropy": (lambda z: F.cross_entropy(z.reshape(4, 3), lamina.tensor([0, 2, 1, 2])),),
    "cross_entropy_sum_ignored": (lambda z: F.cross_entropy(z.reshape(4, 3), lamina.tensor([0, -100, 1, 2]),
                                                            reduction="sum"),),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ops_give_the_same_results_with_and_without_kernels(name):
    (make,) = CASES[name]
    z = np.random.default_rng(1).standard_normal(12).astype(np.float32) * 3
    fused_out, fused_grads = run(make, z)
    plain_out, plain_grads = without_kernels(lambda: run(make, z))
    np.testing.assert_allclose(fused_out, plain_out, rtol=1e-6)
    for a, b in zip(fused_grads, plain_grads):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_cross_entropy_with_every_target_ignored_is_nan_with_zero_gradient_as_torch():
    torch = pytest.importorskip("torch")
    z = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x = lamina.tensor(z, requires_grad=True)
    out = F.cross_entropy(x, lamina.tensor([-100, -100, -100]))
    out.backward()
    zt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(zt, torch.tensor([-100, -100, -100]))
    ref.backward()
    assert np.isnan(out.item()) and np.isnan(ref.item())
    np.testing.assert_array_equal(x.grad.numpy(), zt.grad.numpy())


def test_large_and_non_float32_arrays_take_the_numpy_code():
    big = np.random.default_rng(0).standard_normal(kernels.SMALL + 1).astype(np.float32)
    assert not kernels.fits_small(big) and kernels.fits(big)
    assert np.array_equal(lamina.tensor(big).sigmoid().numpy(), unary.sigmoid_array(big))
    assert not kernels.fits(big.astype(np.float64)) and not kernels.fits(big[::2])
    z64 = lamina.tensor(big[:10].astype(np.float64), requires_grad=True)
    (z64.tanh().sum()).backward()
    assert z64.grad.dtype == lamina.float64
    np.testing.assert_allclose(z64.grad.numpy(), 1 - np.tanh(big[:10].astype(np.float64)) ** 2)


def test_bce_still_reports_inputs_outside_zero_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([0.5, 1.5]), lamina.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([-0.5, 0.5]), lamina.tensor([1.0, 0.0]), reduction="none")


@pytest.mark.parametrize("bias", [True, False])
def test_tiny_linear_kernels_match_numpy(bias):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal((5, 6)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32) if bias else None
    assert kernels.fits_tiny(x, w)
    out = np.empty((4, 5), np.float32)
    kernels.linear(x, w, b, out)
    np.testing.assert_allclose(out, x @ w.T + (b if bias else 0), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal((4, 5)).astype(np.float32)
    gx, gw, gb = np.empty_like(x), np.empty_like(w), np.empty(5, np.float32)
    kernels.linear_backward(g, x, w, gx, gw, gb if bias else None)
    np.testing.assert_allclose(gx, g @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw, g.T @ x, rtol=1e-5, atol=1e-6)
    if bias:
        np.testing.assert_allclose(gb, g.sum(0), rtol=1e-5, atol=1e-6)
    gw2 = np.empty_like(w)
    kernels.linear_backward(g, x, w, None, gw2, None)  # only what is asked for
    np.testing.assert_array_equal(gw2, gw)
    assert not kernels.fits_tiny(np.ones((64, 64), np.float32), np.ones((64, 64), np.float32))


def test_linear_layer_is_the_same_tiny_or_not():
    def run_layer():
        lamina.manual_seed(0)
        layer = lamina.nn.Linear(3, 2)
        x = lamina.tensor(np.float32([[1, 2, 3], [-1, 0.5, 2]]), requires_grad=True)
        (layer(x).tanh().sum()).backward()
        return [t.numpy().copy() for t in (x.grad, layer.weight.grad, layer.bias.grad)]

    tiny = run_layer()
    blas = without_kernels(run_layer)
    for a, b in zip(tiny, blas):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_cross_entropy_kernel_refuses_an_index_out_of_range_instead_of_reading_past_the_row():
    # F.cross_entropy checks targets first; this is the backstop for direct calls of the op
    with pytest.raises(IndexError, match="out of range"):
        loss.SmallCrossEntropy.apply(lamina.randn(3, 4), lamina.tensor([0, 5, 1]), -100, "mean")


def test_the_switch_turns_every_kernel_off_and_back_on():
    z = np.zeros(3, np.float32)
    assert kernels.is_enabled() and kernels.fits(z)
    with kernels.set_enabled(False):
        assert not kernels.is_enabled() and not kernels.fits(z) and not kernels.fits_small(z)
        assert not kernels.usable(z, z) and not kernels.fits_tiny(z.reshape(1, 3), z.reshape(1, 3))
        assert lamina.tensor([-1.0, 2.0]).relu().tolist() == [0.0, 2.0]  # the NumPy code
    assert kernels.is_enabled() and kernels.fits(z)
    kernels.set_enabled(False)
    try:
        assert not kernels.fits(z)
    finally:
        kernels.set_enabled(True)
    assert kernels.fits(z)


def _python(code, **env):
    """Run code in a fresh interpreter that imports this lamina; return its stdout."""
    src = str(Path(lamina.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_importing_lamina_does_not_import_numba_and_the_first_kernel_call_does():
    out = _python("import sys, lamina, lamina.nn, lamina.optim; print('numba' in sys.modules); "
                  "lamina.tensor([1.0, -1.0]).relu(); print('numba' in sys.modules)")
    assert out.split() == ["False", "True"]


def test_lamina_kernels_0_in_the_environment_turns_the_kernels_off():
    out = _python("import sys, lamina; lamina.tensor([1.0, -1.0]).relu(); "
                  "print(lamina.kernels.is_enabled(), 'numba' in sys.modules)", LAMINA_KERNELS="0")
    assert out.split() == ["False", "False"]
