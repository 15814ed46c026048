"""Module API against torch: full backward hooks, non-persistent buffers, get_submodule/get_parameter/get_buffer,
requires_grad_, dtype casts, ParameterList, ParameterDict, Unflatten, Identity with arguments."""

import numpy as np
import pytest

import lamina
from lamina import nn

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)


def pair(make_ours, make_theirs):
    """The same small model on both sides, torch's weights copied in."""
    ours, theirs = make_ours(), make_theirs()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


class Two(nn.Module):
    """Two inputs (one a plain number), two outputs."""

    def __init__(self, lib):
        super().__init__()
        self.fc = lib.Linear(3, 2)

    def forward(self, x, scale, y):
        h = self.fc(x) * scale
        return h + y, h * y


class TorchTwo(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x, scale, y):
        h = self.fc(x) * scale
        return h + y, h * y


def record(store):
    def hook(module, grad_input, grad_output):
        store.append(([None if g is None else np.array(g.numpy()) for g in grad_input],
                      [None if g is None else np.array(g.numpy()) for g in grad_output]))
    return hook


def same_records(a, b):
    assert len(a) == len(b)
    for (gi_a, go_a), (gi_b, go_b) in zip(a, b):
        for x, y in zip(gi_a + go_a, gi_b + go_b):
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
        assert len(gi_a) == len(gi_b) and len(go_a) == len(go_b)


def test_full_backward_hook_matches_torch_on_a_layer_and_a_model():
    ours, theirs = pair(lambda: nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)),
                        lambda: torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2)))
    got, want = [], []
    handles = [ours[0].register_full_backward_hook(record(got)), ours[2].register_full_backward_hook(record(got))]
    theirs[0].register_full_backward_hook(record(want))
    theirs[2].register_full_backward_hook(record(want))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(xl).pow(2).sum().backward()
    theirs(xt).pow(2).sum().backward()
    same_records(got, want)  # ours[2] first, then ours[0], as torch
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[0].weight.grad.numpy(), theirs[0].weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    got.clear()
    for h in handles:
        h.remove()
    ours(xl).sum().backward()
    assert got == []


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # torch's note on the case this test checks
def test_first_layer_without_input_grad_gets_none_and_replacement_works():
    ours, theirs = pair(lambda: nn.Linear(4, 3), lambda: torch.nn.Linear(4, 3))
    got, want = [], []
    ours.register_full_backward_hook(record(got))
    theirs.register_full_backward_hook(record(want))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    ours(lamina.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    same_records(got, want)
    assert got[0][0] == [None]
    doubled = nn.Tanh()
    doubled.register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    tdoubled = torch.nn.Tanh()
    tdoubled.register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (doubled(xl) * 3).sum().backward()
    (tdoubled(xt) * 3).sum().backward()
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=1e-5)


def test_full_backward_hook_with_several_inputs_and_outputs():
    ours, theirs = pair(lambda: Two(nn), TorchTwo)
    got, want = [], []
    ours.register_full_backward_hook(record(got))
    theirs.register_full_backward_hook(record(want))
    x, y = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 2)).astype(np.float32)
    a, b = ours(lamina.tensor(x, requires_grad=True), 2.0, lamina.tensor(y, requires_grad=True))
    (a.sum() + (b * b).sum()).backward()
    ta, tb = theirs(torch.tensor(x, requires_grad=True), 2.0, torch.tensor(y, requires_grad=True))
    (ta.sum() + (tb * tb).sum()).backward()
    same_records(got, want)
    assert got[0][0][1] is None and len(got[0][1]) == 2


def buffered(lib, nn_lib):
    class Buffered(nn_lib.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn_lib.Linear(2, 2)
            self.register_buffer("kept", lib.ones(2))
            self.register_buffer("scratch", lib.zeros(3), persistent=False)
            self.w = nn_lib.Parameter(lib.ones(1))

    return Buffered()


def test_non_persistent_buffers_and_lookups_as_torch():
    ours, theirs = buffered(lamina, nn), buffered(torch, torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["w", "kept", "fc.weight", "fc.bias"]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert ours.get_parameter("fc.weight") is ours.fc.weight and ours.get_parameter("w") is ours.w
    assert ours.get_buffer("scratch") is ours.scratch and ours.get_submodule("fc") is ours.fc
    with pytest.raises(AttributeError, match="`kept` is not an nn.Parameter"):
        ours.get_parameter("kept")
    with pytest.raises(AttributeError, match="Linear has no attribute `gamma`"):
        ours.get_parameter("fc.gamma")
    with pytest.raises(AttributeError, match="no submodule 'enc'"):
        ours.get_parameter("enc.weight")
    assert ours.requires_grad_(False) is ours and not any(p.requires_grad for p in ours.parameters())
    ours.requires_grad_()
    assert all(p.requires_grad for p in ours.parameters())
    for cast, dtype in (("half", np.float16), ("double", np.float64), ("float", np.float32)):
        assert getattr(ours, cast)() is ours
        assert ours.fc.weight.dtype == dtype and ours.scratch.dtype == dtype


def test_parameter_list_and_dict_as_torch():
    shapes = [(3, 4), (2,)]
    ours = nn.ParameterList([lamina.ones(*s) for s in shapes])
    theirs = torch.nn.ParameterList([torch.ones(*s) for s in shapes])
    assert isinstance(ours[0], nn.Parameter) and len(ours) == 2 and ours[-1].shape == (2,)
    ours.append(nn.Parameter(lamina.zeros(1)))
    theirs.append(torch.nn.Parameter(torch.zeros(1)))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2"]
    assert repr(ours) == repr(theirs).replace("torch.", "lamina.")
    assert [p.shape for p in ours[1:]] == [(2,), (1,)]

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterDict({"a": lamina.ones(2), "b": nn.Parameter(lamina.zeros(3))})
            self.chain = nn.ParameterList([lamina.ones(1)])

    h = Holder()
    assert [n for n, _ in h.named_parameters()] == ["scales.a", "scales.b", "chain.0"]
    d = h.scales
    assert "a" in d and len(d) == 2 and list(d.keys()) == ["a", "b"] and d.get("z") is None
    d["c"] = lamina.ones(1)
    assert list(d) == ["a", "b", "c"] and isinstance(d["c"], nn.Parameter)
    d.pop("a")
    tdict = torch.nn.ParameterDict({"b": torch.zeros(3), "c": torch.ones(1)})
    assert list(d.state_dict()) == list(tdict.state_dict())
    assert repr(d).splitlines()[1:] == ["    (b): Parameter containing: [lamina.float32 of size 3]",
                                        "    (c): Parameter containing: [lamina.float32 of size 1]", ")"]


def test_unflatten_and_identity():
    x = rng.standard_normal((4, 6, 2)).astype(np.float32)
    for dim, sizes in ((1, (2, 3)), (-2, (3, -1)), (0, (2, 2))):
        ours, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
        np.testing.assert_array_equal(ours(lamina.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
        assert repr(ours) == repr(theirs)
    with pytest.raises(nn.LayerInputError, match=r"model\.0 \(Unflatten.*does not fit dimension 1 of size 6"):
        nn.Sequential(nn.Unflatten(1, (4, 2)))(lamina.tensor(x))
    ident = nn.Identity(54, unused_argument=0.1)
    t = lamina.randn(2)
    assert ident(t) is t and repr(ident) == repr(torch.nn.Identity(54, unused_argument=0.1))
