"""The direct convolution (kernels.direct_conv, for layers with few input values per output) against the NumPy code
it mirrors, bit for bit, and the Convolution op on that path against PyTorch: output and every gradient."""

import numpy as np
import pytest
import torch

import lamina
from lamina import kernels
from lamina.nn import functional as F
from lamina.ops import conv

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


def cases(d, seed, count=40):
    """(x shape, w shape, stride, padding ((lo, hi), ...), dilation, groups) with C/G · kernel size ≤ conv.DIRECT,
    stride 1."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        groups = int(rng.integers(1, 3))
        cg = int(rng.integers(1, 3))
        kernel = tuple(int(k) for k in rng.integers(1, 4, d))
        stride = (1,) * d
        dilation = tuple(int(v) for v in rng.integers(1, 3, d))
        padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (d, 2)))
        size = tuple(int(n) for n in rng.integers(6, 11, d))
        o = groups * int(rng.integers(1, 4))
        yield (int(rng.integers(1, 4)), groups * cg) + size, (o, cg) + kernel, stride, padding, dilation, groups


def out_size(size, kernel, stride, padding, dilation):
    return tuple((m + lo + hi - dl * (k - 1) - 1) // s + 1
                 for m, (lo, hi), k, s, dl in zip(size, padding, kernel, stride, dilation))


def test_direct_kernel_equals_the_numpy_reference_bit_for_bit():
    rng = np.random.default_rng(2)
    seen = 0
    for xs, ws, stride, padding, dilation, groups in cases(2, 12):
        out = out_size(xs[2:], ws[2:], stride, padding, dilation)
        if min(out) < 1:
            continue
        seen += 1
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32) if seen % 3 else None
        assert conv.direct_fits(x, w, b)
        fused = conv._direct(x, w, b, padding, dilation, groups, out)
        plain = conv.direct_reference(x, w, b, stride, padding, dilation, groups, out)
        assert fused.shape == plain.shape == (xs[0], ws[0]) + out
        assert np.array_equal(fused, plain), (xs, ws, stride, padding, dilation, groups)
    assert seen > 20


def test_the_direct_path_is_taken_only_for_few_input_values_per_output():
    x = np.zeros((2, 1, 28, 28), np.float32)
    assert conv.direct_fits(x, np.zeros((6, 1, 5, 5), np.float32), None)  # LeNet's first layer: 25
    assert not conv.direct_fits(x, np.zeros((16, 6, 5, 5), np.float32), None)  # its second: 150
    assert not conv.direct_fits(x, np.zeros((16, 2, 5, 5), np.float32), None)  # 50: only without a graph
    assert conv.direct_fits(x, np.zeros((16, 2, 5, 5), np.float32), None, keep=False)
    assert not conv.direct_fits(x[:, :, 0], np.zeros((6, 1, 5), np.float32), None)  # 1-D: im2col
    assert not conv.direct_fits(x.astype(np.float64), np.zeros((6, 1, 5, 5)), None)
    with kernels.set_enabled(False):
        assert not conv.direct_fits(x, np.zeros((6, 1, 5, 5), np.float32), None)


def test_convolution_on_the_direct_path_matches_torch_with_every_gradient():
    d = 2
    rng = np.random.default_rng(32)
    ran = 0
    for xs, ws, stride, padding, dilation, groups in cases(d, 40 + d, 16):
        pads = tuple(lo for lo, _ in padding)  # PyTorch pads both sides alike
        if min(out_size(xs[2:], ws[2:], stride, tuple((p, p) for p in pads), dilation)) < 1:
            continue
        ran += 1
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[:1]))
        lx, lw, lb = (lamina.tensor(a, requires_grad=True) for a in (x, w, b))
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        args = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
        y = getattr(F, f"conv{d}d")(lx, lw, lb, **args)
        ty = getattr(torch.nn.functional, f"conv{d}d")(tx, tw, tb, **args)
        assert y.grad_fn.direct
        g = rng.standard_normal(ty.shape).astype(np.float32)
        y.backward(lamina.from_numpy(g))
        ty.backward(torch.from_numpy(g))
        for mine, theirs in ((y.detach(), ty), (lx.grad, tx.grad), (lw.grad, tw.grad), (lb.grad, tb.grad)):
            np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert ran > 8


def test_direct_path_gradients_equal_the_im2col_path(monkeypatch):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 1, 12, 11)).astype(np.float32)
    w = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    g = rng.standard_normal((5, 6, 12, 11)).astype(np.float32)
    results = []
    for direct in (25, 0):
        monkeypatch.setattr(conv, "DIRECT", direct)
        lx, lw, lb = (lamina.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(lx, lw, lb, padding=2)
        assert y.grad_fn.direct == bool(direct)
        y.backward(lamina.from_numpy(g))
        results.append([y.detach().numpy(), lx.grad.numpy(), lw.grad.numpy(), lb.grad.numpy()])
    direct, im2col = results
    np.testing.assert_allclose(direct[0], im2col[0], rtol=1e-5, atol=1e-5)  # the sums in another order
    for a, b in zip(direct[1:], im2col[1:]):
        assert np.array_equal(a, b)  # the same code on the same arrays: the same bits


def test_direct_path_unbatched_and_without_bias_or_input_gradient():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 9, 9)).astype(np.float32)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    lw = lamina.tensor(w, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    y = F.conv2d(lamina.tensor(x), lw, padding=1, dilation=(2, 1))
    ty = torch.nn.functional.conv2d(torch.tensor(x), tw, padding=1, dilation=(2, 1))
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)
