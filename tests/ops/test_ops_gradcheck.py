"""Every differentiable op's gradient against finite differences in float64 (gradcheck). Needs no torch."""

import numpy as np
import pytest
from op_cases import CASES

import lamina
from lamina.autograd import gradcheck


@pytest.mark.parametrize("name,fn,tfn,inputs", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, tfn, inputs):
    xs = [lamina.tensor(a.astype(np.float64), requires_grad=True) for a in inputs]
    assert gradcheck(fn, xs)


@pytest.mark.parametrize("name", ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "atanh", "reciprocal",
                                  "log2", "log10", "exp2", "expm1", "erf"])
def test_elementwise_gradcheck(name):
    x = lamina.tensor(np.random.default_rng(1).uniform(-0.8, 0.8, (2, 3)) + (2.0 if name in ("reciprocal", "log2",
                      "log10") else 0.0), requires_grad=True)
    assert gradcheck(lambda t: getattr(t, name)(), [x])


def test_binary_elementwise_gradcheck():
    a, b, w = (lamina.tensor(np.random.default_rng(i).uniform(0.2, 1.5, (2, 3)), requires_grad=True) for i in range(3))
    assert gradcheck(lambda p, q: p.atan2(q), [a, b])
    assert gradcheck(lambda p, q: p.logaddexp(q), [a, b])
    assert gradcheck(lambda p, q, r: p.lerp(q, r), [a, b, w])
    acosh_input = lamina.tensor(np.random.default_rng(4).uniform(1.2, 2.0, (2, 3)), requires_grad=True)
    assert gradcheck(lambda t: t.acosh(), [acosh_input])


def test_movement_index_and_scan_gradcheck():
    g = np.random.default_rng(2)
    x = lamina.tensor(g.uniform(0.5, 1.5, (3, 4)), requires_grad=True)
    idx = lamina.tensor([[0, 0, 2], [1, 3, 3], [2, 2, 0]])
    assert gradcheck(lambda t: t.flip(1).roll(1, 0).repeat(2, 1).repeat_interleave(2, 1), [x])
    assert gradcheck(lambda t: t.diagonal(1) * t.cumsum(1).cumprod(0)[:, :3].sum(0), [x])
    assert gradcheck(lambda t: t.gather(1, idx) + t.index_select(1, lamina.tensor([3, 3, 1])), [x])
    src = lamina.tensor(g.uniform(0.5, 1.5, (3, 3)), requires_grad=True)
    assert gradcheck(lambda t, s: t.scatter_add(1, idx, s) * 2 + t.scatter(1, idx[:, :1], s[:, :1]), [x, src])
    zeros = lamina.tensor([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 2.0]], dtype=lamina.float64, requires_grad=True)
    assert gradcheck(lambda t: t.cumprod(1), [zeros])


def test_order_statistics_and_erfinv_gradcheck():
    x = lamina.tensor(np.random.default_rng(5).permutation(12).reshape(3, 4) / 3.0 - 1.5, requires_grad=True)
    assert gradcheck(lambda t: t.cummax(1).values * 2 + t.cummin(0).values, [x])
    assert gradcheck(lambda t: t.kthvalue(2, 1).values + t.median(1).values, [x])
    y = lamina.tensor(np.linspace(-0.9, 0.9, 6).reshape(2, 3), requires_grad=True)
    assert gradcheck(lambda t: t.erfinv(), [y], atol=1e-4)
    a = lamina.tensor(np.random.default_rng(6).standard_normal((3, 2)), requires_grad=True)
    b = lamina.tensor(np.random.default_rng(7).standard_normal((4, 2)), requires_grad=True)
    assert gradcheck(lambda p, q: lamina.cdist(p, q), [a, b])
