"""state_dict / load_state_dict: PyTorch's keys, round trips with torch, and errors that name the keys."""

from collections import OrderedDict

import numpy as np
import pytest

import lamina
from lamina import nn

torch = pytest.importorskip("torch")


def lamina_model():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def torch_model():
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def train_a_little(model):
    """Move the BatchNorm running stats away from their initial values."""
    model.train()
    for _ in range(3):
        model(lamina.randn(16, 4) * 2 + 1)


def test_keys_and_values():
    model = lamina_model()
    sd = model.state_dict()
    assert list(sd) == list(torch_model().state_dict())
    assert sd["1.num_batches_tracked"].dtype == np.int64 and sd["1.num_batches_tracked"].shape == ()
    assert isinstance(sd, OrderedDict)
    assert not sd["0.weight"].requires_grad
    assert np.shares_memory(sd["0.weight"].array, model[0].weight.array)  # detached, same memory
    assert model.state_dict(keep_vars=True)["0.weight"] is model[0].weight


def test_lamina_state_dict_loads_into_torch_with_same_outputs():
    lamina.manual_seed(0)
    ours = lamina_model()
    train_a_little(ours)
    theirs = torch_model()
    result = theirs.load_state_dict(OrderedDict((k, torch.from_numpy(v.numpy().copy()))
                                                for k, v in ours.state_dict().items()))
    assert not result.missing_keys and not result.unexpected_keys
    assert int(theirs[1].num_batches_tracked) == 3
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(lamina.tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_torch_state_dict_loads_into_lamina_with_same_outputs():
    torch.manual_seed(0)
    theirs = torch_model()
    theirs.train()
    for _ in range(3):
        theirs(torch.randn(16, 4) * 2 + 1)
    ours = lamina_model()
    result = ours.load_state_dict(theirs.state_dict())  # torch tensors go through np.asarray
    assert repr(result) == "<All keys matched successfully>"
    assert int(ours[1].num_batches_tracked.item()) == 3
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(lamina.tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_load_copies_in_place_and_accepts_arrays():
    model = nn.Linear(2, 2)
    weight = model.weight
    model.load_state_dict({"weight": np.eye(2, dtype=np.float64), "bias": [1.0, 2.0]})
    assert model.weight is weight  # same Parameter (optimizers hold it)
    assert weight.dtype == np.float32
    np.testing.assert_array_equal(weight.detach().numpy(), np.eye(2))
    np.testing.assert_array_equal(model.bias.detach().numpy(), [1, 2])


def snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_unchanged(model, before):
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_missing_and_unexpected_keys_are_named_and_nothing_changes():
    model = lamina_model()
    before = snapshot(model)
    sd = {k: np.zeros_like(v) for k, v in before.items()}
    del sd["3.bias"]
    sd["3.extra"] = np.zeros(3, np.float32)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(sd)
    assert 'Missing key(s) in state_dict: "3.bias"' in str(err.value)
    assert 'Unexpected key(s) in state_dict: "3.extra"' in str(err.value)
    assert_unchanged(model, before)
    # strict=False loads what matches and reports the rest
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["3.extra"]
    assert np.all(model[0].weight.detach().numpy() == 0)
    np.testing.assert_array_equal(model[3].bias.detach().numpy(), before["3.bias"])


def test_shape_mismatch_always_raises_naming_key_and_shapes():
    model = lamina_model()
    before = snapshot(model)
    sd = {k: np.ones_like(v) for k, v in before.items()}
    sd["0.weight"] = np.ones((4, 8), np.float32)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight: copying a param with shape \(4, 8\) "
                                               r"from checkpoint, the shape in current model is \(8, 4\)"):
            model.load_state_dict(sd, strict=strict)
        assert_unchanged(model, before)  # not even the keys that matched were copied


def test_non_persistent_buffers_are_not_saved():
    m = nn.Module()
    m.register_buffer("kept", lamina.ones(2))
    m.register_buffer("scratch", lamina.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]


def test_nested_names():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
            self.head = nn.Linear(4, 1, bias=False)

    assert list(Net().state_dict()) == ["encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
                                        "head.weight"]
