"""Module: registration, traversal, modes, hooks, apply, repr, parameter counts, dtype casts."""

import numpy as np
import pytest

import lamina
from lamina import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)
        self.register_buffer("scale", lamina.ones(4))
        self.register_buffer("cache", lamina.zeros(2), persistent=False)
        self.gain = nn.Parameter(lamina.ones(1))

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale * self.gain


def test_attribute_assignment_registers_parameters_buffers_and_modules():
    b = Block()
    assert list(b._parameters) == ["gain"]
    assert list(b._buffers) == ["scale", "cache"]
    assert list(b._modules) == ["fc", "norm"]
    assert [n for n, _ in b.named_parameters()] == ["gain", "fc.weight", "fc.bias", "norm.weight", "norm.bias"]
    assert [n for n, _ in b.named_buffers()] == [
        "scale", "cache", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert [n for n, _ in b.named_children()] == ["fc", "norm"]
    assert [n for n, _ in b.named_modules()] == ["", "fc", "norm"]
    assert list(b.children()) == [b.fc, b.norm]
    assert list(b.modules())[0] is b
    assert [n for n, _ in b.named_parameters(prefix="model")][:2] == ["model.gain", "model.fc.weight"]
    assert [n for n, _ in b.named_parameters(recurse=False)] == ["gain"]
    assert len(list(b.buffers(recurse=False))) == 2


def test_setting_registered_names_to_none_and_reassigning():
    b = Block()
    b.gain = None
    assert b.gain is None and "gain" in b._parameters
    assert [n for n, _ in b.named_parameters()][0] == "fc.weight"
    b.fc = None
    assert b.fc is None and "fc" not in [n for n, _ in b.named_children()]
    b.scale = None
    assert b.scale is None and "scale" not in b.state_dict()
    b.fc = nn.Linear(3, 4)  # a module may come back
    assert "fc.weight" in b.state_dict()
    with pytest.raises(TypeError, match="parameter 'gain'"):
        b.gain = lamina.ones(1)  # a plain tensor is not a Parameter
    with pytest.raises(TypeError, match="child module 'norm'"):
        b.norm = 3
    b.plain = 5  # ordinary attributes stay ordinary
    assert b.plain == 5 and "plain" not in b._parameters
    del b.norm
    assert "norm" not in b._modules
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'missing'"):
        _ = b.missing


def test_register_methods_validate():
    m = nn.Module()
    m.register_parameter("w", nn.Parameter(lamina.ones(2)))
    m.add_module("child", nn.ReLU())
    m.register_buffer("b", None)
    assert m.w.shape == (2,) and isinstance(m.child, nn.ReLU) and m.b is None
    with pytest.raises(KeyError, match="'.'"):
        m.register_buffer("a.b", lamina.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("w", lamina.ones(1))
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("v", lamina.ones(1))
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("x", 3)

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_shared_parameters_and_modules_counted_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert model.num_parameters() == 20
    tied = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    tied[1].weight = tied[0].weight
    assert len(list(tied.parameters())) == 3
    assert tied.num_parameters() == 16 + 4 + 4
    tied[1].bias.requires_grad_(False)
    assert tied.num_parameters(trainable_only=True) == 20
    torch = pytest.importorskip("torch")
    t = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    t[1].weight = t[0].weight
    assert sum(p.numel() for p in t.parameters()) == 24


def test_train_eval_propagate_and_return_self():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    model[1].train(False)
    assert model.training and not model[1][0].training and not model[1][1].training
    with pytest.raises(ValueError, match="boolean"):
        model.train("no")


def test_zero_grad_and_requires_grad():
    model = nn.Linear(3, 2)
    model(lamina.randn(4, 3)).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad(set_to_none=False)
    assert np.all(model.weight.grad.numpy() == 0)
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())


def test_forward_hooks_and_pre_hooks():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seen = []
    h1 = model[0].register_forward_hook(lambda m, args, out: seen.append((type(m).__name__, args[0].shape, out.shape)))
    h2 = model[1].register_forward_pre_hook(lambda m, args: (args[0] * 0 - 1,))  # replace the input
    x = lamina.randn(5, 2)
    y = model(x)
    assert seen == [("Linear", (5, 2), (5, 3))]
    assert np.all(y.detach().numpy() == 0)  # relu(-1) = 0
    h3 = model.register_forward_hook(lambda m, args, out: out + 7)  # replace the output
    assert np.all(model(x).detach().numpy() == 7)
    for h in (h1, h2, h3):
        h.remove()
    seen.clear()
    ref = model(x)
    assert seen == [] and ref.shape == (5, 3) and np.all(ref.detach().numpy() >= 0)
    order = []
    model.register_forward_pre_hook(lambda m, a: order.append("second"))
    model.register_forward_pre_hook(lambda m, a: order.append("first"), prepend=True)
    model(x)
    assert order == ["first", "second"]


def test_apply_visits_children_then_self():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "Linear", "Sequential", "Sequential"]

    def init_ones(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)

    model.apply(init_ones)
    assert np.all(model[1][0].weight.detach().numpy() == 1)


def test_repr_matches_torch_and_counts():
    torch = pytest.importorskip("torch")
    tn = torch.nn

    def build(n):
        return n.Sequential(
            n.Flatten(), n.Linear(784, 128), n.BatchNorm1d(128), n.ReLU(), n.Dropout(0.2),
            n.Sequential(n.Linear(128, 64, bias=False), n.LayerNorm(64), n.GELU(approximate="tanh"), n.Tanh()),
            n.ModuleList([n.Linear(64, 64), n.Linear(64, 64), n.SiLU()]),
            n.ModuleDict({"head": n.Linear(64, 10), "act": n.LogSoftmax(dim=1)}),
            n.LeakyReLU(0.2), n.ELU(alpha=0.5), n.Softplus(beta=2), n.Softmax(dim=-1), n.Sigmoid(), n.Identity(),
            n.ReLU(inplace=True), n.BatchNorm1d(3, momentum=None, affine=False), n.LayerNorm((2, 3), bias=False),
            n.MSELoss(), n.CrossEntropyLoss(), n.BCEWithLogitsLoss(), n.HuberLoss(), n.L1Loss(), n.BCELoss(),
            n.NLLLoss(),
        )

    ours, theirs = build(nn), build(tn)
    assert repr(ours) == repr(theirs)
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    assert repr(nn.Sequential()) == repr(tn.Sequential())


def test_float_double_to_cast_in_place():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    assert model.double() is model
    assert weight.dtype == np.float64 and model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    assert model[0].weight is weight  # same Parameter object: optimizers keep working
    out = model(lamina.randn(4, 2, dtype=lamina.float64))
    assert out.dtype == np.float64
    model.to(lamina.float32)
    assert weight.dtype == np.float32
    assert model.to("cpu") is model
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_get_submodule():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    assert model.get_submodule("1.1") is model[1][1]
    assert model.get_submodule("") is model
    with pytest.raises(AttributeError, match="no submodule '5'"):
        model.get_submodule("1.5")


def test_parameter_repr_and_leafness():
    p = nn.Parameter(lamina.ones(2))
    assert p.requires_grad and p.is_leaf and repr(p).startswith("Parameter containing:")
