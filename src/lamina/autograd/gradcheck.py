"""gradcheck: autodiff against central finite differences, in float64."""

from __future__ import annotations

import numpy as np

from lamina.autograd.grad_mode import no_grad
from lamina.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when autodiff and finite differences disagree."""


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Compare autodiff with central finite differences, in float64.

    ``fn`` takes the tensors in ``inputs`` and returns a tensor; every input with
    ``requires_grad`` is checked element by element. Returns True, or raises GradcheckError
    naming the input, the worst element, and both values.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    xs = [Tensor(np.array(t.array, dtype=np.float64, order="C"), requires_grad=t.requires_grad)
          if isinstance(t, Tensor) and t.dtype.kind == "f" else t for t in inputs]
    checked = [i for i, t in enumerate(xs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")

    out = fn(*xs)
    rng = np.random.default_rng(0)
    # a random projection turns any output into a scalar: checks the full Jacobian in one sweep
    weights = rng.standard_normal(out.shape)
    (out * Tensor(weights)).sum().backward()
    analytic = {i: (xs[i].grad.array.copy() if xs[i].grad is not None else np.zeros(xs[i].shape)) for i in checked}

    with no_grad():
        for i in checked:
            x = xs[i].array
            numeric = np.zeros_like(x)
            flat, nflat = x.reshape(-1), numeric.reshape(-1)
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                plus = float((fn(*xs).array * weights).sum())
                flat[k] = orig - eps
                minus = float((fn(*xs).array * weights).sum())
                flat[k] = orig
                nflat[k] = (plus - minus) / (2 * eps)
            err = np.abs(analytic[i] - numeric) - (atol + rtol * np.abs(numeric))
            if err.size and err.max() > 0:
                k = np.unravel_index(int(np.argmax(err)), err.shape)
                raise GradcheckError(
                    f"gradcheck: gradient of input {i} (shape {x.shape}) disagrees at index {tuple(map(int, k))}: "
                    f"autodiff {analytic[i][k]:.8g} vs finite differences {numeric[k]:.8g}"
                )
    return True
