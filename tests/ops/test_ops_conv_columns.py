"""ops.conv.im2col's 1-D short path (the unpadded windows' view copied once) against the general NumPy code
(conv.columns of conv.windows), bit for bit, and the training step of a strided 1-D convnet against PyTorch."""

import numpy as np
import pytest
import torch

import lamina
from lamina.ops import conv


@pytest.mark.parametrize("kernel, stride, dilation, size", [((5,), (2,), (1,), 40), ((3,), (2,), (1,), 18),
                                                            ((3,), (2,), (1,), 8), ((3,), (1,), (2,), 9),
                                                            ((1,), (3,), (1,), 7), ((4,), (3,), (2,), 12)])
def test_unpadded_1d_columns_equal_the_windows_copy(kernel, stride, dilation, size):
    x = np.random.default_rng(size).standard_normal((3, 4, size)).astype(np.float32)
    out = ((size - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1,)
    cols = conv.im2col(x, kernel, stride, ((0, 0),), dilation, out).copy()
    reference = conv.columns(conv.windows(x, kernel, stride, dilation, out))  # (C, k, N, out)
    assert cols.shape == (4,) + kernel + (3,) + out
    assert np.array_equal(cols, reference)
    strided = np.random.default_rng(1).standard_normal((3, 4, 2 * size)).astype(np.float32)[..., ::2]  # not contiguous
    assert np.array_equal(conv.im2col(strided, kernel, stride, ((0, 0),), dilation, out),
                          conv.columns(conv.windows(strided, kernel, stride, dilation, out)))


def test_strided_conv1d_gradients_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 3, 40)).astype(np.float32)
    w = rng.standard_normal((6, 3, 5)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    g = rng.standard_normal((10, 6, 18)).astype(np.float32)
    ours = [lamina.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = lamina.nn.functional.conv1d(*ours, stride=2)
    y.backward(lamina.tensor(g))
    yt = torch.nn.functional.conv1d(*theirs, stride=2)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)
