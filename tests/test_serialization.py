import json
import os
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import lamina
from lamina.serialization import load, load_checkpoint, load_metadata, save, save_checkpoint


class TinyModel:
    """A stand-in with the PyTorch module state_dict API: y = x·Wᵀ + b."""

    def __init__(self, out=3, inp=2, seed=0):
        rng = np.random.default_rng(seed)
        self.params = OrderedDict(weight=lamina.tensor(rng.normal(size=(out, inp)).astype(np.float32),
                                                       requires_grad=True),
                                  bias=lamina.zeros(out, requires_grad=True))

    def __call__(self, x):
        return x @ self.params["weight"].T + self.params["bias"]

    def state_dict(self):
        return OrderedDict((k, p.detach()) for k, p in self.params.items())

    def load_state_dict(self, state, strict=True):
        for k, p in self.params.items():
            np.copyto(p.array, np.asarray(state[k]))


class TinyMomentum:
    """A stand-in optimizer with torch's state_dict format; it adds lamina-random noise to each step."""

    def __init__(self, params, lr=0.1, momentum=0.9):
        self.param_groups = [{"params": list(params), "lr": lr, "momentum": momentum, "betas": (0.9, 0.99)}]
        self.state = {}

    def step(self):
        group = self.param_groups[0]
        for i, p in enumerate(group["params"]):
            st = self.state.setdefault(i, {"step": np.int64(0), "buf": np.zeros_like(p.array)})
            st["buf"] = group["momentum"] * st["buf"] + p.grad.array
            st["step"] += 1
            noise = lamina.random.rng().standard_normal(p.shape, dtype=np.float32) * np.float32(1e-3)
            p.array -= (np.float32(group["lr"]) * st["buf"] + noise).astype(np.float32)
            p.grad = None

    def state_dict(self):
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": list(range(len(g["params"])))}
                  for g in self.param_groups]
        return {"state": {i: dict(st) for i, st in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, sd):
        self.state = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
                      for i, st in sd["state"].items()}
        for group, saved in zip(self.param_groups, sd["param_groups"]):
            group.update({k: v for k, v in saved.items() if k != "params"})


class TinyScheduler:
    def __init__(self):
        self.last_epoch, self.base_lrs = 0, [0.1]

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, sd):
        self.__dict__.update(sd)


def sample_state():
    return OrderedDict([
        ("layer.weight", np.arange(6, dtype=np.float32).reshape(2, 3)),
        ("layer.bias", lamina.tensor([0.5, -1.5])),
        ("counts", np.array([1, 2, 3], dtype=np.int64)),
        ("mask", np.array([True, False])),
        ("double", np.array([1e-300, 2.0], dtype=np.float64)),
        ("scalar", np.array(7, dtype=np.int64)),
        ("empty", np.zeros((0, 4), dtype=np.float32)),
    ])


# ---------------------------------------------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------------------------------------------
def test_save_load_round_trip_keeps_values_dtypes_and_shapes(tmp_path):
    path = tmp_path / "w.safetensors"
    state = sample_state()
    save(state, path, metadata={"note": "hello"})
    loaded = load(path)
    assert isinstance(loaded, OrderedDict) and set(loaded) == set(state)
    for key, value in state.items():
        got = loaded[key]
        assert isinstance(got, lamina.Tensor)
        expected = np.asarray(value)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got.array, expected)
    assert loaded["layer.weight"].dtype == np.float32
    assert load_metadata(path) == {"note": "hello"}
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary left behind


def test_save_accepts_a_module_and_load_into_model(tmp_path):
    path = tmp_path / "m.safetensors"
    source, target = TinyModel(seed=1), TinyModel(seed=2)
    save(source, path)
    load(path, target)
    np.testing.assert_array_equal(target.params["weight"].array, source.params["weight"].array)


def test_torch_file_loads_in_lamina_and_lamina_file_loads_in_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    save_file(net.state_dict(), tmp_path / "torch.safetensors")
    ours = load(tmp_path / "torch.safetensors")
    assert set(ours) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for key, value in net.state_dict().items():
        assert ours[key].dtype == np.float32
        np.testing.assert_array_equal(ours[key].array, value.numpy())

    save(ours, tmp_path / "lamina.safetensors")
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    fresh.load_state_dict(load_file(tmp_path / "lamina.safetensors"))
    x = torch.randn(5, 4)
    torch.testing.assert_close(fresh(x), net(x), rtol=0, atol=0)


def test_save_rejects_what_it_cannot_store_and_bad_metadata(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store 'step', a builtin_function_or_method"):
        save({"step": print}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match=r"cannot save 'names': dtype <U1 is not numeric"):
        save({"names": np.array(["a", "b"])}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match=r"metadata must map str to str.*'epoch': 'int'"):
        save({"w": np.zeros(2)}, tmp_path / "a.safetensors", metadata={"epoch": 3})
    with pytest.raises(FileNotFoundError, match="directory .*missing does not exist"):
        save({"w": np.zeros(2)}, tmp_path / "missing" / "a.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_nested_objects_round_trip_without_pickle(tmp_path):
    lamina.manual_seed(0)
    model = lamina.nn.Linear(3, 2)
    opt = lamina.optim.Adam(model.parameters(), lr=0.1)
    model(lamina.randn(4, 3)).sum().backward()
    opt.step()
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "loss": 0.25,
                  "note": "best", "ids": (1, 2), 0: None, "x": lamina.tensor(2.5)}
    path = tmp_path / "ckpt.pt"
    save(checkpoint, path)
    back = load(path, map_location="cpu", weights_only=True)
    assert back["epoch"] == 3 and back["loss"] == 0.25 and back["note"] == "best" and back["ids"] == (1, 2)
    assert back[0] is None and back["x"].item() == 2.5
    for key, value in model.state_dict().items():
        assert np.array_equal(back["model"][key].numpy(), value.numpy())
    fresh = lamina.optim.Adam(lamina.nn.Linear(3, 2).parameters(), lr=0.1)
    fresh.load_state_dict(back["optimizer"])
    assert fresh.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    save(lamina.arange(3), tmp_path / "t.safetensors")
    assert load(tmp_path / "t.safetensors").tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="nested object"):
        load(path, model)
    with pytest.raises(RuntimeError, match="CPU only"):
        load(path, map_location="cuda:0")


def test_a_pytorch_pickle_is_refused_with_how_to_convert(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match="PyTorch pickle file.*does not read pickle.*save_file"):
        load(path)


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save({"w": np.ones(3, np.float32)}, path)
    before = path.read_bytes()
    written = []
    real_fsync = os.fsync

    def failing_fsync(fd):
        written.append(os.fstat(fd).st_size)  # the new data reached the temporary file...
        raise OSError("disk full")  # ...then the write fails before the rename

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.zeros(1000, np.float32)}, path)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model={"w": np.zeros(1000, np.float32)})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert written and written[0] > 4000
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
    np.testing.assert_array_equal(load(path)["w"].array, np.ones(3))


@pytest.mark.parametrize("damage, problem", [
    (lambda data: b"", "header too small"),
    (lambda data: b"this is not a safetensors file at all", "invalid header length|header too large"),
    (lambda data: data[:-8], "incomplete metadata|not fully covered"),
    (lambda data: data[:30], "invalid header length|EOF|incomplete|invalid JSON"),
    (lambda data: data[:8] + b"{" * (len(data) - 8), "invalid JSON"),
    (lambda data: data + b"trailing", "incomplete metadata|not fully covered"),
])
def test_corrupt_files_raise_naming_the_file(tmp_path, damage, problem):
    good = tmp_path / "good.safetensors"
    save({"weight": np.ones((4, 4), np.float32)}, good)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(ValueError, match=rf"bad\.safetensors: not a readable safetensors file.*({problem})"):
        load(bad)
    with pytest.raises(ValueError, match=r"bad\.safetensors"):
        load_checkpoint(bad)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors: no such file"):
        load(tmp_path / "nope.safetensors")


def test_shape_mismatch_names_key_and_shapes_and_leaves_model_unchanged(tmp_path):
    path = tmp_path / "weights.safetensors"
    save({"weight": np.zeros((64, 2), np.float32), "bias": np.zeros(3, np.float32)}, path)
    model = TinyModel(out=3)
    before = model.params["weight"].array.copy()
    with pytest.raises(ValueError, match=r"weights\.safetensors: key 'weight' has shape \(64, 2\) but the model "
                                         r"expects \(3, 2\)"):
        load(path, model)
    np.testing.assert_array_equal(model.params["weight"].array, before)
    assert model.params["bias"].array.tolist() == [0, 0, 0]


def test_missing_and_unexpected_keys(tmp_path):
    path = tmp_path / "w.safetensors"
    save({"weight": np.zeros((3, 2), np.float32), "extra.thing": np.zeros(1, np.float32)}, path)
    with pytest.raises(ValueError, match=r"w\.safetensors: missing keys 'bias'; unexpected keys 'extra\.thing'"):
        load(path, TinyModel())
    save_checkpoint(tmp_path / "c.ckpt", model=TinyModel())
    with pytest.raises(ValueError, match="not a weights file; use lamina.load_checkpoint"):
        load(tmp_path / "c.ckpt", TinyModel())


def test_non_strict_load_checks_only_shapes_of_shared_keys(tmp_path):
    nn = pytest.importorskip("lamina.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("lamina.nn.Linear not available yet")
    path = tmp_path / "w.safetensors"
    save({"weight": np.full((3, 2), 2.0, np.float32), "unused": np.zeros(1, np.float32)}, path)
    layer = nn.Linear(2, 3)
    load(path, layer, strict=False)
    assert layer.weight.array.tolist() == [[2.0, 2.0]] * 3


# ---------------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------------
def torch_style_optimizer_state():
    return {
        "state": {0: {"step": np.float32(3.0), "exp_avg": np.full((3, 2), 0.25, np.float32),
                      "exp_avg_sq": np.full((3, 2), 1e-8, np.float32)},
                  1: {"step": np.float32(3.0), "exp_avg": np.ones(3, np.float32), "exp_avg_sq": np.ones(3, np.float32),
                      "count": 7, "flag": True, "nothing": None}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
                          "params": [0, 1], "name": "all"}],
    }


class RecordingOptimizer:
    def __init__(self, params, sd=None):
        self.param_groups = [{"params": list(params), "lr": 0.5}]
        self.sd, self.loaded = sd, None

    def state_dict(self):
        return self.sd

    def load_state_dict(self, sd):
        self.loaded = sd


def test_checkpoint_layout_and_exact_round_trip(tmp_path):
    path = tmp_path / "run.ckpt"
    model = TinyModel()
    opt = RecordingOptimizer(model.params.values(), torch_style_optimizer_state())
    history = {"loss": [0.5, 0.25], "val_accuracy": [0.75, 0.875]}
    extra = {"note": "hi", "ids": (1, 2), 3: "int key", "arr": np.arange(3), "inf": float("inf")}
    lamina.manual_seed(42)
    save_checkpoint(path, model=model, optimizer=opt, scheduler=TinyScheduler(), epoch=2, history=history,
                    extra=extra)
    names = set(load(path))
    assert names == {"model/weight", "model/bias", "optimizer/state/0/exp_avg", "optimizer/state/0/exp_avg_sq",
                     "optimizer/state/1/exp_avg", "optimizer/state/1/exp_avg_sq", "extra/arr"}
    meta = load_metadata(path)
    assert meta["format"] == "lamina.checkpoint" and json.loads(meta["epoch"]) == 2
    assert json.loads(meta["history"]) == history

    expected_rng = lamina.get_rng_state()
    lamina.manual_seed(0)
    fresh, fresh_opt, sched = TinyModel(seed=5), RecordingOptimizer(model.params.values()), TinyScheduler()
    sched.last_epoch = 99
    out = load_checkpoint(path, model=fresh, optimizer=fresh_opt, scheduler=sched)
    assert lamina.get_rng_state() == expected_rng
    assert out["epoch"] == 2 and out["history"] == history
    assert out["extra"]["ids"] == (1, 2) and out["extra"][3] == "int key" and out["extra"]["inf"] == float("inf")
    assert out["extra"]["arr"].dtype == np.int64 and out["extra"]["arr"].tolist() == [0, 1, 2]
    assert sched.last_epoch == 0 and sched.base_lrs == [0.1]
    np.testing.assert_array_equal(fresh.params["weight"].array, model.params["weight"].array)

    saved, restored = torch_style_optimizer_state(), fresh_opt.loaded
    assert restored["param_groups"] == saved["param_groups"]
    assert isinstance(restored["param_groups"][0]["betas"], tuple)
    assert list(restored["state"]) == [0, 1]  # int keys come back as ints
    for idx, entry in saved["state"].items():
        for name, value in entry.items():
            got = restored["state"][idx][name]
            assert type(got) is type(value), name
            if isinstance(value, (np.ndarray, np.generic)):
                assert got.dtype == value.dtype
                np.testing.assert_array_equal(got, value)
            else:
                assert got == value


def train_epochs(model, opt, sched, loader, epochs):
    for _ in range(epochs):
        for x, y in loader:
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        sched.last_epoch += 1


def make_run(seed):
    lamina.manual_seed(seed)
    model = TinyModel(seed=seed)
    data = lamina.data.TensorDataset(lamina.randn(20, 2), lamina.randn(20, 3))
    loader = lamina.data.DataLoader(data, batch_size=6, shuffle=True)
    return model, TinyMomentum(model.params.values()), TinyScheduler(), loader


def test_resume_from_checkpoint_continues_bit_for_bit(tmp_path):
    model, opt, sched, loader = make_run(7)
    train_epochs(model, opt, sched, loader, 4)
    straight = {k: v.array.copy() for k, v in model.state_dict().items()}

    model, opt, sched, loader = make_run(7)
    train_epochs(model, opt, sched, loader, 2)
    save_checkpoint(tmp_path / "half.ckpt", model=model, optimizer=opt, scheduler=sched, epoch=2)

    resumed, resumed_opt, resumed_sched, _ = make_run(123)  # different weights, state and RNG stream
    out = load_checkpoint(tmp_path / "half.ckpt", model=resumed, optimizer=resumed_opt, scheduler=resumed_sched)
    assert out["epoch"] == 2 and resumed_sched.last_epoch == 2
    assert isinstance(resumed_opt.state[0]["step"], np.int64)
    train_epochs(resumed, resumed_opt, resumed_sched, loader, 2)
    for key, value in resumed.state_dict().items():
        assert value.array.tobytes() == straight[key].tobytes()


def test_checkpoint_mismatch_changes_nothing(tmp_path):
    path = tmp_path / "run.ckpt"
    model = TinyModel(out=3)
    opt = RecordingOptimizer(model.params.values(), torch_style_optimizer_state())
    save_checkpoint(path, model=model, optimizer=opt)

    wide = TinyModel(out=4, seed=9)
    before = wide.params["weight"].array.copy()
    lamina.manual_seed(5)
    rng_before = lamina.get_rng_state()
    with pytest.raises(ValueError, match=r"run\.ckpt: key 'weight' has shape \(3, 2\) but the model expects \(4, 2\)"):
        load_checkpoint(path, model=wide, optimizer=RecordingOptimizer(wide.params.values()))
    np.testing.assert_array_equal(wide.params["weight"].array, before)
    assert lamina.get_rng_state() == rng_before

    other = TinyModel(seed=3)
    w_before = other.params["weight"].array.copy()
    one_param_opt = RecordingOptimizer([other.params["weight"]])
    with pytest.raises(ValueError, match=r"run\.ckpt: optimizer state does not fit the optimizer: group 0 has 2 "
                                         r"parameters but the optimizer's has 1"):
        load_checkpoint(path, model=other, optimizer=one_param_opt)
    assert one_param_opt.loaded is None
    np.testing.assert_array_equal(other.params["weight"].array, w_before)

    swapped = RecordingOptimizer([other.params["bias"], other.params["weight"]])
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(3, 2\) but the parameter has "
                                         r"shape \(3,\)"):
        load_checkpoint(path, model=other, optimizer=swapped)
    with pytest.raises(ValueError, match=r"run\.ckpt: the checkpoint holds no scheduler state"):
        load_checkpoint(path, model=other, scheduler=TinyScheduler())
    np.testing.assert_array_equal(other.params["weight"].array, w_before)


def write_raw(path, tensors, **metadata):
    safetensors.numpy.save_file(tensors, str(path), metadata={"format": "lamina.checkpoint", **metadata})


def test_corrupt_or_foreign_checkpoint_metadata(tmp_path):
    save({"w": np.zeros(2, np.float32)}, tmp_path / "weights.safetensors")
    with pytest.raises(ValueError, match=r"weights\.safetensors: not a lamina checkpoint"):
        load_checkpoint(tmp_path / "weights.safetensors", model=TinyModel())

    sections = {name: "null" for name in ("optimizer", "scheduler", "epoch", "history", "extra")}
    write_raw(tmp_path / "a.ckpt", {"x": np.zeros(1)}, model="{not json", rng="null", **sections)
    with pytest.raises(ValueError, match=r"a\.ckpt: corrupt checkpoint metadata \(Expecting property name"):
        load_checkpoint(tmp_path / "a.ckpt")
    ref = json.dumps({"weight": {"__tensor__": "model/weight", "as": "Tensor"}})
    write_raw(tmp_path / "b.ckpt", {"x": np.zeros(1)}, model=ref, rng="null", **sections)
    with pytest.raises(ValueError, match=r"b\.ckpt: corrupt checkpoint metadata \(no entry 'model/weight'\)"):
        load_checkpoint(tmp_path / "b.ckpt")
    write_raw(tmp_path / "c.ckpt", {"x": np.zeros(1)}, model="{}", **sections)
    with pytest.raises(ValueError, match=r"c\.ckpt: corrupt checkpoint metadata \(no entry 'rng'\)"):
        load_checkpoint(tmp_path / "c.ckpt")
    write_raw(tmp_path / "d.ckpt", {"x": np.zeros(1)}, model="{}", rng='{"bit_generator": "PCG64", "state": 5}',
              **sections)
    lamina.manual_seed(1)
    state = lamina.get_rng_state()
    with pytest.raises(ValueError, match=r"d\.ckpt: invalid RNG state"):
        load_checkpoint(tmp_path / "d.ckpt")
    assert lamina.get_rng_state() == state
    assert load_checkpoint(tmp_path / "d.ckpt", restore_rng=False)["model"] == {}


def test_checkpoint_rejects_unstorable_values(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store 'extra/when', a object"):
        save_checkpoint(tmp_path / "x.ckpt", model={}, extra={"when": object()})
    with pytest.raises(TypeError, match="must have a state_dict"):
        save_checkpoint(tmp_path / "x.ckpt", model=[1, 2])
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------------
# with the real lamina.nn and lamina.optim
# ---------------------------------------------------------------------------------------------------------------
def real_run(seed):
    from lamina import nn, optim

    lamina.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.BatchNorm1d(16), nn.Linear(16, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-3, amsgrad=True)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    data_rng = np.random.default_rng(0)
    data = lamina.data.TensorDataset(data_rng.normal(size=(40, 4)).astype(np.float32), data_rng.integers(0, 3, 40))
    loader = lamina.data.DataLoader(data, batch_size=8, shuffle=True)
    return model, optimizer, scheduler, loader


def real_epochs(model, optimizer, scheduler, loader, epochs):
    from lamina import nn

    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        scheduler.step()


def test_real_model_optimizer_scheduler_resume_bit_for_bit(tmp_path):
    pytest.importorskip("lamina.optim.adam")
    model, optimizer, scheduler, loader = real_run(3)
    real_epochs(model, optimizer, scheduler, loader, 4)
    straight = {k: v.array.copy() for k, v in model.state_dict().items()}
    straight_opt = optimizer.state_dict()

    model, optimizer, scheduler, loader = real_run(3)
    real_epochs(model, optimizer, scheduler, loader, 2)
    save_checkpoint(tmp_path / "run.ckpt", model=model, optimizer=optimizer, scheduler=scheduler, epoch=2,
                    history={"loss": [1.0, 0.5]})
    assert "optimizer/state/0/exp_avg" in load(tmp_path / "run.ckpt")
    assert "model/0.weight" in load(tmp_path / "run.ckpt") and "model/3.running_mean" in load(tmp_path / "run.ckpt")

    model, optimizer, scheduler, loader = real_run(99)  # fresh objects, another RNG stream
    info = load_checkpoint(tmp_path / "run.ckpt", model=model, optimizer=optimizer, scheduler=scheduler)
    assert info["epoch"] == 2 and info["history"] == {"loss": [1.0, 0.5]}
    real_epochs(model, optimizer, scheduler, loader, 2)
    for key, value in model.state_dict().items():
        assert value.array.tobytes() == straight[key].tobytes(), key
    resumed_opt = optimizer.state_dict()
    assert resumed_opt["param_groups"] == straight_opt["param_groups"]
    for idx, entry in straight_opt["state"].items():
        for name, value in entry.items():
            assert np.asarray(resumed_opt["state"][idx][name]).tobytes() == np.asarray(value).tobytes()


def test_real_model_weights_round_trip_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    from lamina import nn

    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 2))
    save_file(reference.state_dict(), tmp_path / "torch.safetensors")
    ours = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))
    load(tmp_path / "torch.safetensors", ours)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(lamina.tensor(x)).detach().numpy(), reference(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)

    save(ours, tmp_path / "lamina.safetensors")
    back = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 2))
    back.load_state_dict(load_file(tmp_path / "lamina.safetensors"))
    for key, value in reference.state_dict().items():
        assert torch.equal(back.state_dict()[key], value)

    wider = nn.Sequential(nn.Linear(5, 9), nn.ReLU(), nn.Linear(9, 2))
    before = wider[0].weight.detach().numpy().copy()
    with pytest.raises(ValueError, match=r"torch\.safetensors: key '0\.weight' has shape \(7, 5\) but the model "
                                         r"expects \(9, 5\)"):
        load(tmp_path / "torch.safetensors", wider)
    np.testing.assert_array_equal(wider[0].weight.detach().numpy(), before)


def _data_start(path) -> int:
    """Where the tensor bytes of a safetensors file begin (after the 8-byte size and the JSON header)."""
    return 8 + int.from_bytes(path.read_bytes()[:8], "little")


def test_a_flipped_tensor_byte_is_caught_and_named(tmp_path):
    path = tmp_path / "w.safetensors"
    state = OrderedDict(a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.ones(4, dtype=np.float32))
    save(state, path)
    data = bytearray(path.read_bytes())
    header = json.loads(bytes(data[8:_data_start(path)]))
    begin = _data_start(path) + header["b"]["data_offsets"][0]
    data[begin + 5] ^= 0x10  # one bit of b[1]
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"w\.safetensors: corrupt file: tensor 'b' fails its checksum"):
        load(path)

    ckpt = tmp_path / "run.ckpt"
    model = TinyModel()
    save_checkpoint(ckpt, model=model, epoch=1, history={"loss": [0.5]})
    data = bytearray(ckpt.read_bytes())
    data[-1] ^= 0x01
    ckpt.write_bytes(bytes(data))
    before = model.params["weight"].array.copy()
    with pytest.raises(ValueError, match=r"run\.ckpt: corrupt file: tensor 'model/(weight|bias)' fails its checksum"):
        load_checkpoint(ckpt, model=model)
    np.testing.assert_array_equal(model.params["weight"].array, before)


def test_edited_metadata_is_caught_and_foreign_files_load_unchecked(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    save_checkpoint(ckpt, model=TinyModel(), epoch=3, history={"loss": [0.5]})
    data = ckpt.read_bytes()
    edited = data.replace(b'"epoch":"3"', b'"epoch":"4"')
    assert edited != data
    ckpt.write_bytes(edited)
    with pytest.raises(ValueError, match=r"run\.ckpt: corrupt file: its metadata fails its checksum"):
        load_checkpoint(ckpt, model=TinyModel())

    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(safetensors.numpy.save({"weight": np.ones((3, 2), np.float32)}, metadata={"by": "other"}))
    assert load_metadata(foreign) == {"by": "other"}
    np.testing.assert_array_equal(load(foreign)["weight"].numpy(), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="lamina's own"):
        save({"w": np.ones(2, np.float32)}, tmp_path / "x.safetensors", metadata={"lamina.crc32": "x"})


def test_bfloat16_reads_as_float32_and_float8_is_named(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    values = torch.tensor([[1.5, -2.25, 3.0e-3], [1.0e20, 0.0, -7.0]])
    save_file({"w": values.to(torch.bfloat16), "n": torch.arange(3)}, tmp_path / "bf16.safetensors")
    loaded = load(tmp_path / "bf16.safetensors")
    assert loaded["w"].dtype == np.float32 and loaded["n"].dtype == np.int64
    np.testing.assert_array_equal(loaded["w"].numpy(), values.to(torch.bfloat16).float().numpy())

    save_file({"w": values.to(torch.float8_e4m3fn)}, tmp_path / "f8.safetensors")
    with pytest.raises(ValueError, match=r"f8\.safetensors: tensor 'w' has dtype F8_E4M3, which lamina does not "
                                         r"read"):
        load(tmp_path / "f8.safetensors")
