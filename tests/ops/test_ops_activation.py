"""The further activations' gradients against finite differences in float64 (gradcheck), away from their kinks.
Needs no torch (values and the gradients at the kinks are compared with torch in tests/nn/test_nn_activation_more)."""

import numpy as np
import pytest

import lamina
from lamina.autograd import gradcheck
from lamina.nn import functional as F

rng = np.random.default_rng(3)


def away_from_kinks(shape, kinks=(-6, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 6), scale=3.0):
    """Random values at least 0.05 from every kink, so finite differences do not straddle one."""
    x = rng.standard_normal(shape) * scale
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x[near] = k + 0.1
    return lamina.tensor(x, requires_grad=True)


CASES = [
    ("hardtanh", lambda t: F.hardtanh(t, -2.0, 3.0)), ("relu6", F.relu6), ("selu", F.selu),
    ("celu", lambda t: F.celu(t, 0.5)), ("mish", F.mish), ("hardswish", F.hardswish),
    ("hardsigmoid", F.hardsigmoid), ("logsigmoid", F.logsigmoid), ("softsign", F.softsign),
    ("tanhshrink", F.tanhshrink), ("threshold", lambda t: F.threshold(t, 0.5, -1.0)),
    ("softshrink", lambda t: F.softshrink(t, 1.0)), ("hardshrink", lambda t: F.hardshrink(t, 0.5)),
    ("softmin", lambda t: F.softmin(t, 1)), ("glu", lambda t: F.glu(t, 1)), ("glu_last", F.glu),
]


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn):
    assert gradcheck(fn, [away_from_kinks((3, 4))])


@pytest.mark.parametrize("shape,num", [((4, 3), 3), ((2, 3, 2), 3), ((2, 3), 1), ((5,), 1)])
def test_prelu_gradcheck_input_and_weight(shape, num):
    w = lamina.tensor(rng.uniform(-0.5, 0.5, num), requires_grad=True)
    assert gradcheck(F.prelu, [away_from_kinks(shape), w])
