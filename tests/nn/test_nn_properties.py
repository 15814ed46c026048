"""Property tests over random shapes (hypothesis): the fused layers and losses agree with torch."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import lamina
from lamina import nn
from lamina.nn import functional as F

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-4, atol=1e-5)
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)  # the same examples every run
dims = st.lists(st.integers(1, 4), min_size=0, max_size=2)


def check(ours_fn, theirs_fn, *arrays):
    """Same value and same gradients for every float array, under a random upstream gradient.

    lamina runs in float32; torch, the reference, in float64: on odd shapes (say, LayerNorm over two
    elements) float32 torch itself drifts past the tolerance from the exact result."""
    ls = [lamina.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a.astype(np.float64) if a.dtype.kind == "f" else a, requires_grad=a.dtype.kind == "f")
          for a in arrays]
    yl, yt = ours_fn(*ls), theirs_fn(*ts)
    assert yl.dtype == np.float32
    np.testing.assert_allclose(yl.detach().numpy(), yt.detach().numpy(), **TOL)
    g = np.random.default_rng(0).standard_normal(tuple(yt.shape)).astype(np.float32)
    yl.backward(g)
    yt.backward(torch.from_numpy(g.astype(np.float64)))
    for a, b in zip(ls, ts):
        if a.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)


@SETTINGS
@given(n=st.integers(1, 5), c=st.integers(1, 6), extra=dims, seed=st.integers(0, 2**16),
       reduction=st.sampled_from(["mean", "sum", "none"]), smoothing=st.sampled_from([0.0, 0.15]),
       weighted=st.booleans())
def test_cross_entropy_any_shape(n, c, extra, seed, reduction, smoothing, weighted):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c, *extra)).astype(np.float32) * 3
    y = rng.integers(0, c, (n, *extra))
    w = rng.uniform(0.5, 2, c).astype(np.float32) if weighted else None
    tw = None if w is None else torch.from_numpy(w.astype(np.float64))
    check(lambda z, y: F.cross_entropy(z, y, weight=w, reduction=reduction, label_smoothing=smoothing),
          lambda z, y: torch.nn.functional.cross_entropy(z, y, weight=tw, reduction=reduction,
                                                         label_smoothing=smoothing), z, y)


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), k=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_layer_norm_any_shape(shape, k, seed):
    k = min(k, len(shape))
    # groups of one or two elements normalise to 0 or ±1 whatever the input: their input gradient is pure
    # eps-regime cancellation, ill-conditioned in float32 (the float32 torch drifts there too)
    assume(np.prod(shape[-k:]) > 2)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    w = rng.uniform(0.5, 1.5, shape[-k:]).astype(np.float32)
    b = rng.standard_normal(shape[-k:]).astype(np.float32)
    check(lambda x, w, b: F.layer_norm(x, shape[-k:], w, b),
          lambda x, w, b: torch.nn.functional.layer_norm(x, shape[-k:], w, b), x, w, b)


@SETTINGS
@given(n=st.integers(2, 6), c=st.integers(1, 4), length=st.sampled_from([None, 1, 3]), seed=st.integers(0, 2**16))
def test_batch_norm_training_any_shape(n, c, length, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) if length is None else (n, c, length)
    assume(n * (length or 1) > 2)  # two values per channel: ill-conditioned in float32, as for layer_norm
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    w = rng.uniform(0.5, 1.5, c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    check(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
          lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True), x, w, b)


@SETTINGS
@given(batch=dims, fan_in=st.integers(1, 6), fan_out=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_linear_any_shape(batch, fan_in, fan_out, seed):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(fan_in, fan_out)
    x = rng.standard_normal((*batch, fan_in)).astype(np.float32)
    check(lambda x, w, b: F.linear(x, w, b), lambda x, w, b: torch.nn.functional.linear(x, w, b), x,
          layer.weight.detach().numpy(), layer.bias.detach().numpy())
