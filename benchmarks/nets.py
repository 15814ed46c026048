"""The same small network, its training step and its forward pass, written as each library's users write it.

A side is a callable ``side(steps)`` that runs ``steps`` training steps (or forward passes) on the next
batches of its cycle; the harness times those calls. lamina and PyTorch run their ordinary eager public
API; JAX runs ``jax.jit`` of the whole step. Libraries are imported inside the classes, so a process that
uses one side never loads the others (the memory probes rely on that).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from benchmarks.data import batch_slices


@dataclass(frozen=True)
class Net:
    """A fully connected network and how it is trained."""

    sizes: tuple  # (inputs, hidden..., outputs)
    hidden: str = "relu"  # "relu" or "tanh"
    output: str | None = None  # None (logits) or "sigmoid"
    loss: str = "cross_entropy"  # "cross_entropy" (class indices) or "bce" (probabilities)
    optimizer: str = "adam"  # "adam" or "sgd"
    lr: float = 1e-3


MLP = Net((784, 512, 256, 10), "relu", None, "cross_entropy", "adam", 1e-3)
XOR = Net((2, 8, 1), "tanh", "sigmoid", "bce", "sgd", 0.5)


# ---------------------------------------------------------------------------------------------------
# lamina and PyTorch eager: the same code, since lamina follows PyTorch's API (`lib` is either module)
# ---------------------------------------------------------------------------------------------------
def eager_model(lib, net: Net, weights: list):
    """``lib.nn.Sequential`` of Linear layers holding ``weights``, with the net's activations."""
    layers = []
    for i, (w, b) in enumerate(weights):
        linear = lib.nn.Linear(w.shape[1], w.shape[0])
        with lib.no_grad():
            linear.weight.copy_(lib.from_numpy(w))
            linear.bias.copy_(lib.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(lib.nn.ReLU() if net.hidden == "relu" else lib.nn.Tanh())
    if net.output == "sigmoid":
        layers.append(lib.nn.Sigmoid())
    return lib.nn.Sequential(*layers)


class EagerTrainer:
    """model(x), loss_fn(out, y), optimizer.zero_grad(), loss.backward(), optimizer.step(); default settings."""

    library = ""  # "lamina" or "torch": imported on construction, so a process loads only its own side

    def __init__(self, net: Net, weights: list, x: np.ndarray, y: np.ndarray, batch: int):
        lib = importlib.import_module(self.library)
        self.model = eager_model(lib, net, weights)
        self.loss_fn = lib.nn.CrossEntropyLoss() if net.loss == "cross_entropy" else lib.nn.BCELoss()
        opt = lib.optim.Adam if net.optimizer == "adam" else lib.optim.SGD
        self.optimizer = opt(self.model.parameters(), lr=net.lr)
        self.batches = [(lib.from_numpy(x[s]), lib.from_numpy(y[s])) for s in batch_slices(len(x), batch)]
        self.position = 0
        self.loss = float("nan")

    def __call__(self, steps: int) -> None:
        model, loss_fn, optimizer, batches = self.model, self.loss_fn, self.optimizer, self.batches
        model.train()
        for _ in range(steps):
            inputs, targets = batches[self.position % len(batches)]
            self.position += 1
            loss = loss_fn(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        self.loss = loss.item()


class EagerInference:
    """model.eval(); with lib.no_grad(): model(x)."""

    library = ""

    def __init__(self, net: Net, weights: list, x: np.ndarray, batch: int):
        self.lib = importlib.import_module(self.library)
        self.model = eager_model(self.lib, net, weights).eval()
        self.batches = [self.lib.from_numpy(x[s]) for s in batch_slices(len(x), batch)]
        self.position = 0

    def __call__(self, steps: int) -> None:
        model, batches = self.model, self.batches
        for _ in range(steps):
            with self.lib.no_grad():
                self.out = model(batches[self.position % len(batches)])
            self.position += 1

    def output(self) -> np.ndarray:
        return self.out.numpy()


class LaminaTrainer(EagerTrainer):
    library = "lamina"


class TorchTrainer(EagerTrainer):
    library = "torch"


class LaminaInference(EagerInference):
    library = "lamina"


class TorchInference(EagerInference):
    library = "torch"


# ---------------------------------------------------------------------------------------------------
# JAX: jax.jit of the whole step (forward, jax.grad, Adam or SGD written in jax.numpy)
# ---------------------------------------------------------------------------------------------------
def _jax_forward(net: Net):
    import jax
    import jax.numpy as jnp

    def forward(params, x):
        for i, (w, b) in enumerate(params):
            x = x @ w.T + b
            if i < len(params) - 1:
                x = jax.nn.relu(x) if net.hidden == "relu" else jnp.tanh(x)
        return jax.nn.sigmoid(x) if net.output == "sigmoid" else x

    return forward


def _jax_step(net: Net):
    """One jitted step: (params, optimizer state, x, y) -> (params, optimizer state, loss)."""
    import jax
    import jax.numpy as jnp

    forward = _jax_forward(net)

    def loss_fn(params, x, y):
        out = forward(params, x)
        if net.loss == "cross_entropy":
            logp = jax.nn.log_softmax(out, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
        log_p = jnp.maximum(jnp.log(out), -100.0)  # clamped as torch's BCELoss
        log_q = jnp.maximum(jnp.log1p(-out), -100.0)
        return -jnp.mean(y * log_p + (1 - y) * log_q)

    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        if net.optimizer == "sgd":
            return jax.tree_util.tree_map(lambda p, g: p - net.lr * g, params, grads), state, loss
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        m, v, t = state
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        params = jax.tree_util.tree_map(lambda p, m, v: p - net.lr * (m / c1) / (jnp.sqrt(v / c2) + eps),
                                        params, m, v)
        return params, (m, v, t), loss

    return jax.jit(step)


class JaxTrainer:
    def __init__(self, net: Net, weights: list, x: np.ndarray, y: np.ndarray, batch: int):
        import jax
        import jax.numpy as jnp

        self.jax = jax
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        self.state = (params, (zeros, zeros, jnp.zeros((), jnp.float32)))
        if y.dtype == np.int64:
            y = y.astype(np.int32)  # JAX's default integer width
        self.batches = [(jax.device_put(x[s]), jax.device_put(y[s])) for s in batch_slices(len(x), batch)]
        self.step = _jax_step(net)
        self.position = 0
        self.loss = float("nan")

    def __call__(self, steps: int) -> None:
        params, state = self.state
        step, batches = self.step, self.batches
        for _ in range(steps):
            inputs, targets = batches[self.position % len(batches)]
            self.position += 1
            params, state, loss = step(params, state, inputs, targets)
        self.jax.block_until_ready((params, state))
        self.state = (params, state)
        self.loss = float(loss)


class JaxInference:
    def __init__(self, net: Net, weights: list, x: np.ndarray, batch: int):
        import jax
        import jax.numpy as jnp

        self.jax = jax
        self.params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]
        self.forward = jax.jit(_jax_forward(net))
        self.batches = [jax.device_put(x[s]) for s in batch_slices(len(x), batch)]
        self.position = 0

    def __call__(self, steps: int) -> None:
        outs = []
        for _ in range(steps):
            outs.append(self.forward(self.params, self.batches[self.position % len(self.batches)]))
            self.position += 1
        self.jax.block_until_ready(outs)
        self.out = outs[-1]

    def output(self) -> np.ndarray:
        return np.asarray(self.out)


JAX_NOTE = ("JAX: one jax.jit of the whole step (forward, jax.value_and_grad, the optimizer update written in "
            "jax.numpy), the batches placed on the device beforehand, block_until_ready at the end of each round.")
PEER_NOTE = ("lamina: the public API (model(x), loss_fn(out, y), zero_grad(), backward(), step()); PyTorch: the same "
             "eager code with torch.nn and torch.optim defaults.")

TRAINERS = {"lamina": LaminaTrainer, "torch": TorchTrainer, "jax": JaxTrainer}
INFERENCE = {"lamina": LaminaInference, "torch": TorchInference, "jax": JaxInference}
