"""Trigonometric, hyperbolic, log/exp in other bases, erf, reciprocal, atan2, logaddexp, lerp: values and gradients
against PyTorch."""

import numpy as np
import pytest

import lamina

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)

inside = rng.uniform(-0.9, 0.9, (3, 4)).astype(np.float32)  # in (−1, 1): asin, acos, atanh
above = rng.uniform(1.1, 3.0, (3, 4)).astype(np.float32)  # > 1: acosh, logs
normal = rng.standard_normal((3, 4)).astype(np.float32)

UNARY = [("tan", inside), ("asin", inside), ("acos", inside), ("atan", normal), ("sinh", normal), ("cosh", normal),
         ("asinh", normal), ("acosh", above), ("atanh", inside), ("reciprocal", above), ("log2", above),
         ("log10", above), ("exp2", normal), ("expm1", normal), ("erf", normal), ("arcsin", inside)]


def compare(f, *arrays):
    results = []
    for lib in (lamina, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = f(lib, *xs)
        (out * lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(out.shape))).sum().backward()
        results.append([out.detach().numpy()] + [x.grad.numpy() for x in xs])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name, values", UNARY, ids=[n for n, _ in UNARY])
def test_unary(name, values):
    compare(lambda lib, x: getattr(x, name)(), values)
    compare(lambda lib, x: getattr(lib, name)(x), values)


def test_binary():
    compare(lambda lib, a, b: lib.atan2(a, b), normal, normal[::-1].copy())
    compare(lambda lib, a, b: lib.logaddexp(a, b), normal, normal[::-1].copy())
    compare(lambda lib, a, b, w: lib.lerp(a, b, w), normal, above, inside)
    compare(lambda lib, a, b: a.lerp(b, 0.3), normal, above)
