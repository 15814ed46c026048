"""lamina.nn.init: PyTorch's gains, fans and bounds; in place, seeded, returning the tensor."""

import math

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import init

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                                ("tanh", None), ("relu", None), ("leaky_relu", None),
                                                ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


@pytest.mark.parametrize("shape", [(3, 4), (6, 3, 2, 2), (5, 2, 7)])
def test_fans_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(lamina.zeros(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def draw(fn, shape=(300, 400), **kwargs):
    p = nn.Parameter(lamina.zeros(*shape))  # requires grad: init must still work (under no_grad)
    out = fn(p, **kwargs)
    assert out is p and p.dtype == np.float32 and p.requires_grad
    return p.detach().numpy()


def check_uniform(w, bound):
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.99 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02  # 120000 draws: well under 1 % error expected


def check_normal(w, std):
    assert abs(w.std() / std - 1) < 0.01 and abs(w.mean()) < 0.02 * std


def test_xavier():
    check_uniform(draw(init.xavier_uniform_), math.sqrt(6 / 700))
    check_uniform(draw(init.xavier_uniform_, gain=2.0), 2 * math.sqrt(6 / 700))
    check_normal(draw(init.xavier_normal_), math.sqrt(2 / 700))
    check_normal(draw(init.xavier_normal_, gain=init.calculate_gain("tanh")), 5 / 3 * math.sqrt(2 / 700))


def test_kaiming():
    # weight (out=300, in=400): fan_in 400, fan_out 300
    check_uniform(draw(init.kaiming_uniform_), math.sqrt(3) * math.sqrt(2) / math.sqrt(400))  # leaky_relu, a=0
    check_uniform(draw(init.kaiming_uniform_, a=math.sqrt(5)), 1 / math.sqrt(400))  # Linear's default
    check_uniform(draw(init.kaiming_uniform_, mode="fan_out", nonlinearity="relu"), math.sqrt(6 / 300))
    check_normal(draw(init.kaiming_normal_, nonlinearity="relu"), math.sqrt(2 / 400))
    check_normal(draw(init.kaiming_normal_, a=0.1, mode="fan_out"), math.sqrt(2 / (1 + 0.01)) / math.sqrt(300))


def test_simple_fills():
    assert np.all(draw(init.zeros_, (3, 4)) == 0)
    assert np.all(draw(init.ones_, (3, 4)) == 1)
    assert np.all(draw(init.constant_, (3, 4), val=0.25) == 0.25)
    w = draw(init.uniform_, a=-2.0, b=3.0)
    assert w.min() >= -2 and w.max() < 3 and abs(w.mean() - 0.5) < 0.02
    check_normal(draw(init.normal_, std=0.5), 0.5)
    w = draw(init.normal_, mean=3.0, std=0.1)
    assert abs(w.mean() - 3) < 0.002


def test_seeded_and_generators():
    lamina.manual_seed(11)
    a = draw(init.xavier_normal_, (20, 30))
    lamina.manual_seed(11)
    b = draw(init.xavier_normal_, (20, 30))
    np.testing.assert_array_equal(a, b)
    g1, g2 = lamina.Generator().manual_seed(5), lamina.Generator().manual_seed(5)
    np.testing.assert_array_equal(draw(init.kaiming_uniform_, (4, 6), generator=g1),
                                  draw(init.kaiming_uniform_, (4, 6), generator=g2))


def test_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(lamina.zeros(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(lamina.zeros(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity softmax"):
        init.calculate_gain("softmax")
