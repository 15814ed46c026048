"""The sliding-window kernels (im2col, col2im, conv_output, max_pool) against the NumPy code they mirror, bit for
bit over a grid of geometries, and the scratch buffers the convolutions reuse."""

import numpy as np
import pytest

from lamina import kernels
from lamina.ops import conv, pool, scratch

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


def geometries(d, seed, count=30, pool_padding=False):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        kernel = tuple(int(k) for k in rng.integers(1, 4, d))
        stride = tuple(int(s) for s in rng.integers(1, 4, d))
        dilation = tuple(int(v) for v in rng.integers(1, 3, d))
        if pool_padding:
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        else:
            padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (d, 2)))
        size = tuple(int(n) for n in rng.integers(5, 10, d))
        yield kernel, stride, padding, dilation, size


@pytest.mark.parametrize("d", [1, 2])
def test_im2col_and_col2im_kernels_equal_the_numpy_code(d):
    rng = np.random.default_rng(d)
    for kernel, stride, padding, dilation, size in geometries(d, d):
        x = rng.standard_normal((2, 3) + size).astype(np.float32)
        out = tuple((m + lo + hi - dl * (k - 1) - 1) // s + 1
                    for m, (lo, hi), k, s, dl in zip(size, padding, kernel, stride, dilation))
        with kernels.set_enabled(True):
            fused = conv.im2col(x, kernel, stride, padding, dilation, out).copy()
        with kernels.set_enabled(False):
            plain = conv.im2col(x, kernel, stride, padding, dilation, out).copy()
        assert np.array_equal(fused, plain), (kernel, stride, padding, dilation)
        assert fused.shape == (3,) + kernel + (2,) + out
        cols = rng.standard_normal(fused.shape).astype(np.float32)
        with kernels.set_enabled(True):
            fused = conv.col2im_to(cols, size, stride, padding, dilation)
        with kernels.set_enabled(False):
            plain = conv.col2im_to(cols, size, stride, padding, dilation)
        assert np.array_equal(fused, plain), (kernel, stride, padding, dilation)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    geometry = ((3, 2), (2, 1), ((1, 2), (0, 1)), (1, 2))
    cols = conv.im2col(x, *geometry[:4], out=(4, 5)).copy()
    c = rng.standard_normal(cols.shape).astype(np.float32)
    back = conv.col2im_to(c, (7, 6), *geometry[1:])
    assert np.isclose(float(np.sum(cols.astype(np.float64) * c)), float(np.sum(x.astype(np.float64) * back)),
                      rtol=1e-5)


def test_convolution_output_kernel_equals_transpose_and_bias(monkeypatch):
    monkeypatch.setattr(conv, "DIRECT", 0)  # the im2col path (the direct path: test_conv_direct_kernels.py)
    monkeypatch.setattr(conv, "DIRECT_INFERENCE", 0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 6, 5)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    args = dict(stride=(1, 2), padding=((1, 1), (0, 1)), dilation=(1, 1), groups=2)
    with kernels.set_enabled(True):
        fused = conv.Convolution().forward(x, w, b, **args)
    with kernels.set_enabled(False):
        plain = conv.Convolution().forward(x, w, b, **args)
    assert fused.flags.c_contiguous and np.array_equal(fused, plain)


@pytest.mark.parametrize("d", [1, 2])
def test_max_pool_kernels_equal_the_numpy_code_with_ties_and_nan(d):
    rng = np.random.default_rng(10 + d)
    for trial, (kernel, stride, padl, dilation, size) in enumerate(geometries(d, 20 + d, 40, pool_padding=True)):
        x = np.round(rng.standard_normal((2, 3) + size) * 2).astype(np.float32) / 2  # many ties
        if trial % 5 == 0:
            x.flat[::7] = np.nan
        if trial % 7 == 0:
            x = x[0]  # unbatched
        ceil = bool(trial % 2)
        out = tuple(pool.pooled_size(n, k, s, p, dl, ceil) for n, k, s, p, dl in zip(size, kernel, stride, padl,
                                                                                    dilation))
        pads = pool.pool_padding(size, kernel, stride, padl, dilation, out)
        with kernels.set_enabled(True):
            fused = pool.MaxPool()
            y1 = fused.forward(x, kernel, stride, pads, dilation, out)
        with kernels.set_enabled(False):
            plain = pool.MaxPool()
            y2 = plain.forward(x, kernel, stride, pads, dilation, out)
        assert fused.fused and not plain.fused
        assert np.array_equal(y1, y2, equal_nan=True) and np.array_equal(fused.saved[0], plain.saved[0])
        g = rng.standard_normal(y1.shape).astype(np.float32)
        assert np.array_equal(fused.backward(g), plain.backward(g)), (kernel, stride, pads, dilation)


def test_scratch_buffers_are_reused_only_when_nothing_refers_to_them():
    shape = (3, 5, 7)
    a = scratch.take(shape, np.float32)
    b = scratch.take(shape, np.float32)
    assert a is not b and a.shape == shape and a.dtype == np.float32 and a.flags.c_contiguous
    view = a.reshape(-1)
    del a
    c = scratch.take(shape, np.float32)
    assert c is not view.base and c is not b  # a's buffer is still seen through the view
    first = id(view.base)
    del view
    assert id(scratch.take(shape, np.float32)) == first  # free again: reused
    assert scratch.take(shape, np.float64).dtype == np.float64


def test_a_convolution_kept_for_backward_does_not_share_its_columns():
    import lamina
    from lamina.nn import functional as F

    rng = np.random.default_rng(2)
    w = lamina.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    xs = [lamina.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32)) for _ in range(2)]
    losses = [F.conv2d(x, w, padding=1).sum() for x in xs]  # two graphs alive at once: two column buffers
    grads = []
    for loss in losses:
        w.grad = None
        loss.backward()
        grads.append(w.grad.numpy().copy())
    for x, g in zip(xs, grads):
        w.grad = None
        F.conv2d(x, w, padding=1).sum().backward()
        assert np.array_equal(w.grad.numpy(), g)


@pytest.mark.parametrize("on", [True, False])
def test_inference_in_blocks_of_samples_equals_the_whole_batch(on, monkeypatch):
    import lamina
    from lamina.nn import functional as F

    rng = np.random.default_rng(3)
    x = lamina.tensor(rng.standard_normal((7, 4, 9, 8)).astype(np.float32))
    w = lamina.tensor(rng.standard_normal((6, 2, 3, 2)).astype(np.float32), requires_grad=True)
    b = lamina.tensor(rng.standard_normal(6).astype(np.float32), requires_grad=True)
    monkeypatch.setattr(conv, "BLOCK", 2 * 4 * 6 * 9 * 8)  # two samples' columns per block: blocks of 2, 2, 2, 1
    monkeypatch.setattr(conv, "DIRECT", 0)  # the im2col path, which the blocks are for
    monkeypatch.setattr(conv, "DIRECT_INFERENCE", 0)
    with kernels.set_enabled(on):
        whole = F.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2)
        with lamina.no_grad():
            blocks = F.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2)
    assert whole.requires_grad and not blocks.requires_grad
    assert np.array_equal(whole.detach().numpy(), blocks.numpy())


@pytest.mark.parametrize("size,stride,ceil", [((8, 10), (2, 2), False), ((7, 9), (2, 2), False),
                                              ((7, 9), (2, 2), True), ((6, 7), (1, 1), False),
                                              ((6, 9), (1, 3), False), ((1, 12), (1, 2), False)])
@pytest.mark.parametrize("nan", [False, True])
def test_max_pool_2x2_fast_path_equals_the_numpy_code(size, stride, ceil, nan):
    rng = np.random.default_rng(sum(size) + 10 * nan)
    x = np.round(rng.standard_normal((3, 2) + size) * 2).astype(np.float32) / 2  # many ties
    if nan:
        x.flat[::5] = np.nan
        x.flat[3::11] = -np.inf
    kernel, dilation = (2, 2) if size[0] > 1 else (1, 2), (1, 1)
    out = tuple(pool.pooled_size(n, k, s, 0, 1, ceil) for n, k, s in zip(size, kernel, stride))
    pads = pool.pool_padding(size, kernel, stride, (0, 0), dilation, out)
    with kernels.set_enabled(True):
        fused = pool.MaxPool()
        y1 = fused.forward(x, kernel, stride, pads, dilation, out)
    with kernels.set_enabled(False):
        plain = pool.MaxPool()
        y2 = plain.forward(x, kernel, stride, pads, dilation, out)
    assert np.array_equal(y1, y2, equal_nan=True) and np.array_equal(fused.saved[0], plain.saved[0])
    g = rng.standard_normal(y1.shape).astype(np.float32)
    assert np.array_equal(fused.backward(g), plain.backward(g))


@pytest.mark.parametrize("size,stride,ceil", [((8, 10), (2, 2), False), ((7, 9), (2, 2), False),
                                              ((7, 9), (2, 2), True), ((6, 7), (1, 1), False)])
@pytest.mark.parametrize("nan", [False, True])
def test_inference_max_pool_values_equal_the_numpy_code(size, stride, ceil, nan):
    """With nothing recorded, MaxPool keeps no argmax: 2×2 windows of stride 2 by kernels.max_pool_2x2_values, the
    rest by kernels.max_pool; the values are the NumPy code's, bit for bit (NaN, −inf, −0 and ties)."""
    rng = np.random.default_rng(sum(size) + 10 * nan)
    x = np.round(rng.standard_normal((3, 2) + size) * 2).astype(np.float32) / 2
    x.flat[1::7] = -0.0
    if nan:
        x.flat[::5] = np.nan
        x.flat[3::11] = -np.inf
    kernel, dilation = (2, 2), (1, 1)
    out = tuple(pool.pooled_size(n, k, s, 0, 1, ceil) for n, k, s in zip(size, kernel, stride))
    pads = pool.pool_padding(size, kernel, stride, (0, 0), dilation, out)
    inference = pool.MaxPool()
    inference.recording = False
    with kernels.set_enabled(True):
        y1 = inference.forward(x, kernel, stride, pads, dilation, out)
    with kernels.set_enabled(False):
        y2 = pool.MaxPool().forward(x, kernel, stride, pads, dilation, out)
    assert inference.saved == ()  # nothing kept for a backward pass
    assert np.array_equal(y1, y2, equal_nan=True)
    assert np.array_equal(np.signbit(y1), np.signbit(y2))
