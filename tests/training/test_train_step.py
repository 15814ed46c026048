"""train_step, the one-batch seam of fit: a custom loop built on it is fit's loop, and its hooks run where a
NaN stop, clipping or gradient averaging must run."""

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.callbacks import Callback, CallbackList
from lamina.data import DataLoader, TensorDataset
from lamina.training import StepResult, TrainingError, train_step


def blobs(n=48, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = (rng.normal(size=(n, 4)) * 0.5 + np.eye(3, 4)[y] * 3).astype(np.float32)
    return X, y.astype(np.int64)


def mlp():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def test_a_custom_loop_on_train_step_is_fit_bit_for_bit():
    X, y = blobs()
    lamina.manual_seed(4)
    model = mlp()
    history = lamina.fit(model, (X, y), loss=nn.CrossEntropyLoss(), epochs=3, batch_size=8, progress=False,
                         optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9))

    lamina.manual_seed(4)
    ref = mlp()
    opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)
    losses = []
    for _ in range(3):
        ref.train()
        total = 0.0
        for batch in loader:
            result = train_step(ref, batch, nn.CrossEntropyLoss(), opt)
            total += result.loss * result.outputs.shape[0]
        losses.append(total / len(X))
    assert losses == history["loss"]
    for (k, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_train_step_returns_the_loss_outputs_and_targets():
    X, y = blobs(n=8)
    lamina.manual_seed(0)
    model = nn.Linear(4, 3)
    before = model(lamina.tensor(X)).detach().numpy()
    expected = nn.CrossEntropyLoss()(lamina.tensor(before), lamina.tensor(y)).item()
    result = train_step(model, (lamina.tensor(X), lamina.tensor(y)), nn.CrossEntropyLoss(),
                        optim.SGD(model.parameters(), lr=0.5))
    assert isinstance(result, StepResult)
    assert result.loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_array_equal(result.outputs.detach().numpy(), before)  # computed before the step
    np.testing.assert_array_equal(result.targets.numpy(), y)
    assert not np.array_equal(model(lamina.tensor(X)).detach().numpy(), before)  # the step was applied
    with pytest.raises(TypeError, match="an \\(inputs, targets\\) pair"):
        train_step(model, lamina.tensor(X), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5))


def test_hooks_run_between_loss_backward_and_step():
    """on_before_backward sees the loss before any gradient; on_before_optimizer_step sees the gradients
    before the weights change, and what it does to them is what the optimizer applies."""
    X, y = blobs(n=8)
    lamina.manual_seed(0)
    model = nn.Linear(4, 3)
    start = model.weight.detach().numpy().copy()
    seen = []

    class Halve(Callback):  # e.g. averaging the gradients of two workers, one of which contributed zeros
        def on_before_backward(self, logs):
            seen.append(("loss", logs["loss"], model.weight.grad))

        def on_before_optimizer_step(self, logs):
            grad = model.weight.grad.numpy().copy()
            seen.append(("grad", logs["loss"], grad))
            np.testing.assert_array_equal(model.weight.detach().numpy(), start)
            for p in model.parameters():
                p.grad.array *= 0.5

    result = train_step(model, (lamina.tensor(X), lamina.tensor(y)), nn.CrossEntropyLoss(),
                        optim.SGD(model.parameters(), lr=1.0), callbacks=[Halve()])
    (what, loss, grad_before), (what2, loss2, grad) = seen
    assert (what, what2) == ("loss", "grad") and loss == loss2 == result.loss
    assert grad_before is None  # no backward yet
    np.testing.assert_allclose(model.weight.detach().numpy(), start - 0.5 * grad, rtol=1e-6, atol=1e-7)


def test_nan_stop_in_a_custom_loop():
    """fit's NaN stop is a callback; a custom loop can pass a CallbackList with any callback to train_step."""
    X, y = blobs(n=8)
    model = nn.Linear(4, 3)
    start = model.weight.detach().numpy().copy()

    class Stop(Callback):
        def on_before_backward(self, logs):
            if not np.isfinite(logs["loss"]):
                raise TrainingError("nan")

    with pytest.raises(TrainingError):
        train_step(model, (lamina.tensor(X * np.nan), lamina.tensor(y)), nn.CrossEntropyLoss(),
                   optim.SGD(model.parameters(), lr=1.0), callbacks=CallbackList([Stop()]))
    np.testing.assert_array_equal(model.weight.detach().numpy(), start)
    assert model.weight.grad is None


def test_callback_list_calls_only_overridden_hooks_in_order():
    calls = []

    class A(Callback):
        def on_batch_end(self, step, logs):
            calls.append(("A", step))

    class B(Callback):
        def on_batch_end(self, step, logs):
            calls.append(("B", step))

        def on_epoch_end(self, epoch, logs):
            calls.append(("B end", epoch))

    cbs = CallbackList([A(), Callback(), B()])
    cbs.on_batch_end(3, {})
    cbs.on_epoch_end(1, {})
    assert calls == [("A", 3), ("B", 3), ("B end", 1)]
    assert cbs.wants_batch_end and not CallbackList([Callback()]).wants_batch_end
    with pytest.raises(TypeError, match="Callback instances, got builtin_function_or_method"):
        CallbackList([print])
