"""The image ops' gradients against finite differences in float64 (gradcheck), on small cases. Needs no torch."""

import numpy as np
import pytest

import lamina
from lamina.autograd import gradcheck
from lamina.nn import functional as F

rng = np.random.default_rng(3)


def t(*shape):
    return lamina.tensor(rng.standard_normal(shape), requires_grad=True)  # float64


def distinct(*shape):
    """Values far apart, so that every window has one clear maximum (max pooling is differentiable there)."""
    n = int(np.prod(shape))
    return lamina.tensor(((rng.permutation(n) - n / 2) * 0.37).reshape(shape), requires_grad=True)


CASES = [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
     lambda: [t(2, 2, 5, 6), t(3, 2, 3, 2), t(3)]),
    ("conv2d_groups", lambda x, w: F.conv2d(x, w, groups=2, padding="same"), lambda: [t(1, 4, 4, 4), t(4, 2, 2, 3)]),
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2), lambda: [t(2, 3, 7), t(2, 3, 3), t(2)]),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,
                                                            groups=2, dilation=(1, 2)),
     lambda: [t(1, 4, 3, 3), t(4, 1, 3, 2), t(2)]),
    ("conv_transpose1d", lambda x, w: F.conv_transpose1d(x, w, stride=3, output_padding=1), lambda: [t(2, 2, 3),
                                                                                                      t(2, 3, 2)]),
    ("unfold", lambda x: F.unfold(x, (2, 3), padding=1, stride=(2, 1)), lambda: [t(1, 2, 4, 5)]),
    ("fold", lambda x: F.fold(x, (4, 5), 2, stride=(1, 2), dilation=(2, 1)), lambda: [t(2, 8, 4)]),
    ("pad_reflect", lambda x: F.pad(x, (2, 1, 1, 3), mode="reflect"), lambda: [t(1, 2, 4, 4)]),
    ("pad_replicate", lambda x: F.pad(x, (2, 1, 1, 3), mode="replicate"), lambda: [t(1, 2, 3, 3)]),
    ("pad_circular", lambda x: F.pad(x, (2, 1, 1, 3), mode="circular"), lambda: [t(1, 2, 3, 4)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), lambda: [distinct(1, 2, 6, 5)]),
    ("max_pool1d", lambda x: F.max_pool1d(x, 2, 1, dilation=2), lambda: [distinct(2, 2, 6)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda: [t(1, 2, 6, 5)]),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1), lambda: [t(2, 2, 6)]),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), lambda: [t(1, 2, 5, 5)]),
    ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (3, 4)), lambda: [distinct(1, 2, 5, 3)]),
    ("interpolate_bilinear", lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"), lambda: [t(1, 2, 3, 4)]),
    ("interpolate_nearest", lambda x: F.interpolate(x, size=5), lambda: [t(2, 2, 3)]),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), lambda: [t(2, 4, 3, 2), t(4), t(4)]),
]


@pytest.mark.parametrize("name,fn,make", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, make):
    assert gradcheck(fn, make())


def test_float64_stays_float64():
    x, w = t(1, 2, 4, 4), t(3, 2, 3, 3)
    assert F.conv2d(x, w).dtype == np.float64
    assert F.max_pool2d(x, 2).dtype == np.float64 and F.adaptive_avg_pool2d(x, 3).dtype == np.float64
