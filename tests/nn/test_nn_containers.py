"""Sequential, ModuleList, ModuleDict."""

from collections import OrderedDict

import numpy as np
import pytest

import lamina
from lamina import nn


def test_sequential_runs_in_order_and_indexes_like_a_list():
    a, r, b = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, r, b)
    x = lamina.randn(4, 2)
    expected = b(r(a(x))).detach().numpy()
    np.testing.assert_array_equal(seq(x).detach().numpy(), expected)
    assert len(seq) == 3 and list(seq) == [a, r, b]
    assert seq[0] is a and seq[-1] is b and seq[-3] is a
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(IndexError):
        seq[-4]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == [r, b]
    assert list(tail._modules) == ["1", "2"]  # slicing keeps the names, as PyTorch
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is b
    seq[2] = nn.Tanh()
    assert isinstance(seq[-1], nn.Tanh)
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and seq[1] is a and list(seq._modules) == ["0", "1", "2", "3"]


def test_sequential_from_ordered_dict_names_the_layers():
    seq = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 4)), ("act", nn.ReLU()), ("fc2", nn.Linear(4, 1))]))
    assert list(seq.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert seq.fc2 is seq[2]
    assert seq(lamina.randn(3, 2)).shape == (3, 1)


def test_module_list_registers_and_slices():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert isinstance(layers[-1], nn.Tanh) and len(layers) == 5
    layers.insert(1, nn.Sigmoid())
    assert isinstance(layers[1], nn.Sigmoid) and len(layers) == 6
    del layers[0]
    assert isinstance(layers[0], nn.Sigmoid) and list(layers._modules) == [str(i) for i in range(5)]
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity)

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    s = Stack()
    assert [n for n, _ in s.named_parameters()] == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                                    "blocks.1.bias"]
    assert s(lamina.randn(2, 3)).shape == (2, 3)
    with pytest.raises(NotImplementedError):
        s.blocks(lamina.randn(2, 3))


def test_module_dict():
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    assert list(d) == ["enc", "act"] and "enc" in d and len(d) == 2
    d["dec"] = nn.Linear(3, 2)
    assert list(d.keys()) == ["enc", "act", "dec"]
    assert [type(m).__name__ for m in d.values()] == ["Linear", "ReLU", "Linear"]
    assert dict(d.items())["dec"] is d["dec"]
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    popped = d.pop("act")
    assert isinstance(popped, nn.ReLU) and "act" not in d
    d.update([("act2", nn.Tanh())])
    assert "act2" in d
    del d["act2"]
    d.clear()
    assert len(d) == 0


def test_container_reprs_match_torch():
    torch = pytest.importorskip("torch")
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3), nn.ReLU(), nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU(),
                                  torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.ReLU()])
    assert repr(ours) == repr(theirs)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    nested_ours = nn.Sequential(OrderedDict([("body", nn.ModuleList([nn.Sequential(nn.Linear(2, 2))] * 2))]))
    nested_theirs = torch.nn.Sequential(OrderedDict([("body", torch.nn.ModuleList(
        [torch.nn.Sequential(torch.nn.Linear(2, 2))] * 2))]))
    assert repr(nested_ours) == repr(nested_theirs)
