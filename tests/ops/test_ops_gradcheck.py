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
