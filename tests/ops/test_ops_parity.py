"""Every differentiable op: forward and input gradients against PyTorch (float32). The cases are in op_cases.py."""

import numpy as np
import pytest
from op_cases import CASES

import lamina

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)


def _to_torch(arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("name,fn,tfn,inputs", CASES, ids=[c[0] for c in CASES])
def test_forward_and_backward_match_torch(name, fn, tfn, inputs):
    xs = [lamina.tensor(a, requires_grad=True) for a in inputs]
    ts = _to_torch(inputs)
    out, tout = fn(*xs), tfn(*ts)
    assert out.dtype == lamina.float32, f"{name} returned {out.dtype}"
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    weights = rng.standard_normal(tout.shape).astype(np.float32)
    (out * lamina.tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad is not None, f"{name}: input {i} got no gradient"
        assert x.grad.dtype == lamina.float32
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=f"{name}: gradient of input {i}")

