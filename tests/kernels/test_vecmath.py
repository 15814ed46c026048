"""exp32, sigmoid32 and tanh32 (lamina/kernels/vecmath.py) against float64 references: a few float32 ulps on a
dense grid, the tails (subnormal and overflowing exp, σ and tanh saturating), inf and NaN."""

import numpy as np
import pytest

from lamina import kernels

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


@pytest.fixture(scope="module")
def apply():
    """apply(name, x): the vecmath function over a float32 array, in a compiled loop (as the kernels call it)."""
    import numba

    from lamina.kernels import vecmath

    def loop(fn):
        @numba.njit(error_model="numpy")
        def run(x, out):
            for i in range(x.size):
                out[i] = fn(x[i])
        return run

    loops = {name: loop(getattr(vecmath, name)) for name in ("exp32", "sigmoid32", "tanh32")}

    def call(name, x):
        x = np.asarray(x, dtype=np.float32)
        out = np.empty_like(x)
        loops[name](x, out)
        return out

    return call


def _ulps(ours, exact):
    """|ours − exact| in units of the float32 spacing at exact."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(ours.astype(np.float64) - exact) / spacing


GRID = np.concatenate([np.linspace(-30, 30, 600_001), np.linspace(-1, 1, 200_001), np.geomspace(1e-30, 1, 2001),
                       -np.geomspace(1e-30, 1, 2001)]).astype(np.float32)


def test_exp32_is_within_two_ulps(apply):
    x = np.concatenate([GRID, np.linspace(-87, 88.7, 100_001, dtype=np.float32)])
    assert _ulps(apply("exp32", x), np.exp(x.astype(np.float64))).max() < 2


def test_exp32_tails_follow_np_exp(apply):
    x = np.float32([-1000, -104, -103.5, -100, -95, -88, 88.5, 88.72, 88.8, 1000, np.inf, -np.inf])
    with np.errstate(over="ignore"):
        expected = np.exp(x)
    ours = apply("exp32", x)
    np.testing.assert_allclose(ours, expected, rtol=3e-7, atol=2e-45)  # subnormals to their last bit
    assert np.isnan(apply("exp32", [np.nan]))[0]


def test_sigmoid32_is_within_three_ulps_of_the_clamped_formula(apply):
    x = np.concatenate([GRID, np.float32([-200, -90, -88, 88, 200, np.inf, -np.inf])])
    exact = 1 / (1 + np.exp(np.minimum(-x.astype(np.float64), 88)))  # unary.sigmoid_array's clamp at 88
    assert _ulps(apply("sigmoid32", x), exact).max() < 3
    assert np.isnan(apply("sigmoid32", [np.nan]))[0]


def test_tanh32_is_within_two_ulps(apply):
    x = np.concatenate([GRID, np.float32([0.6249, 0.625, 0.6251, -0.625, 9, 10, 44, 45, 1e30, np.inf, -np.inf])])
    ours = apply("tanh32", x)
    assert _ulps(ours, np.tanh(x.astype(np.float64))).max() < 2
    assert np.signbit(apply("tanh32", [-0.0]))[0] and apply("tanh32", [0.0])[0] == 0
    assert np.isnan(apply("tanh32", [np.nan]))[0]
