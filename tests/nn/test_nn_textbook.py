"""Textbook facts, checked: the logistic-regression gradient a − y, symmetry of constant initialisation,
and XOR, which no single neuron can fit but a small hidden layer can."""

import math

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import functional as F

X_XOR = lamina.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = lamina.tensor([[0.0], [1.0], [1.0], [0.0]])


def gradient_descent(model, x, y, steps, lr, loss_fn=None):
    """Full-batch gradient descent, by hand: p ← p − lr·∂L/∂p."""
    loss_fn = loss_fn or nn.BCEWithLogitsLoss()
    for _ in range(steps):
        model.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        with lamina.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return loss.item()


def accuracy(model):
    return float(((model(X_XOR).detach().numpy() > 0) == (Y_XOR.numpy() > 0.5)).mean())


def test_bce_after_sigmoid_gives_a_minus_y():
    """L = −(y·log a + (1 − y)·log(1 − a)), a = σ(z) ⇒ dL/dz = a − y."""
    z = lamina.tensor([-2.0, -0.3, 0.0, 0.7, 3.0], requires_grad=True)
    y = lamina.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    a = z.sigmoid()
    F.binary_cross_entropy(a, y, reduction="sum").backward()
    np.testing.assert_allclose(z.grad.numpy(), a.detach().numpy() - y.numpy(), rtol=1e-5, atol=1e-6)
    z.grad = None
    F.binary_cross_entropy_with_logits(z, y, reduction="sum").backward()  # the fused form agrees
    np.testing.assert_allclose(z.grad.numpy(), a.detach().numpy() - y.numpy(), rtol=1e-5, atol=1e-6)


def test_single_neuron_gradient_by_the_formula():
    """One neuron z = w·x + b: dL/dw = (a − y)·x and dL/db = a − y, averaged over the batch."""
    lamina.manual_seed(0)
    neuron = nn.Linear(3, 1)
    x = lamina.randn(6, 3)
    y = lamina.tensor([[1.0], [0.0], [1.0], [1.0], [0.0], [0.0]])
    a = neuron(x).sigmoid()
    F.binary_cross_entropy(a, y).backward()
    err = a.detach().numpy() - y.numpy()  # (6, 1)
    np.testing.assert_allclose(neuron.weight.grad.numpy(), (err * x.numpy()).mean(axis=0, keepdims=True),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(neuron.bias.grad.numpy(), err.mean(axis=0), rtol=1e-5, atol=1e-6)


def mlp(activation):
    return nn.Sequential(nn.Linear(2, 8), activation, nn.Linear(8, 1))


def test_constant_initialisation_keeps_hidden_units_identical():
    """Units that start alike get alike gradients, so they stay alike: the network acts as if it had one."""
    lamina.manual_seed(0)
    x = lamina.randn(16, 2)
    y = (x[:, :1] * x[:, 1:] > 0).float()
    model = mlp(nn.Sigmoid())
    for layer in (model[0], model[2]):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
    gradient_descent(model, x, y, steps=100, lr=1.0)
    w1 = model[0].weight.detach().numpy()
    assert np.abs(w1).max() > 1e-3  # training did move the hidden weights ...
    np.testing.assert_array_equal(w1, np.broadcast_to(w1[:1], w1.shape))  # ... but every hidden unit alike
    hidden = model[:2](x).detach().numpy()
    np.testing.assert_array_equal(hidden, np.broadcast_to(hidden[:, :1], hidden.shape))

    lamina.manual_seed(0)
    model = mlp(nn.Sigmoid())  # random initialisation breaks the symmetry
    gradient_descent(model, x, y, steps=100, lr=1.0)
    w1 = model[0].weight.detach().numpy()
    assert np.abs(w1[1:] - w1[:1]).max(axis=1).min() > 1e-2  # every unit differs from the first


def test_a_single_neuron_cannot_fit_xor():
    lamina.manual_seed(0)
    perceptron = nn.Linear(2, 1)
    loss = gradient_descent(perceptron, X_XOR, Y_XOR, steps=300, lr=0.5)
    assert accuracy(perceptron) < 1.0
    assert loss > math.log(2) - 1e-3  # the best a linear boundary can do on XOR is chance: ln 2


@pytest.mark.parametrize("activation", [nn.Tanh(), nn.ReLU()], ids=["tanh", "relu"])
def test_a_small_mlp_fits_xor(activation):
    lamina.manual_seed(0)
    model = mlp(activation)
    loss = gradient_descent(model, X_XOR, Y_XOR, steps=300, lr=0.5)
    assert accuracy(model) == 1.0 and loss < 0.1
