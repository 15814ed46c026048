"""Property-based fuzzing of what lamina reads from disk: weights files, checkpoints and CSV tables.

Random truncations, byte flips, header edits and malformed rows must end in the documented error (a ValueError
naming the file; a one-line CLIError for ``lamina predict``'s input) or, for a file lamina wrote, in exactly the
data it wrote; never another exception, never an allocation out of proportion to the file, never a hang (each
example has a deadline)."""

import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lamina
from lamina import nn, optim
from lamina.cli.inputs import read_input
from lamina.cli.runs import CLIError
from lamina.datasets import load_csv
from lamina.serialization import load, load_checkpoint, save, save_checkpoint

FUZZ = settings(max_examples=40, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def model_and_optimizer():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    return model, optim.Adam(model.parameters(), lr=0.01)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("originals")
    model, opt = model_and_optimizer()
    model(lamina.randn(5, 3)).sum().backward()
    opt.step()
    save(model, folder / "model.safetensors")
    save_checkpoint(folder / "checkpoint.ckpt", model=model, optimizer=opt, epoch=1, history={"loss": [0.5]},
                    extra={"note": "x"})
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return {"weights": (folder / "model.safetensors").read_bytes(),
            "checkpoint": (folder / "checkpoint.ckpt").read_bytes(), "state": state}


def header_size(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little") if len(data) >= 8 else 0


@st.composite
def damaged(draw, data: bytes):
    """The file truncated, with bytes flipped (anywhere, in its JSON header or in its tensors), or with its header
    edited."""
    kind = draw(st.sampled_from(["truncate", "flip", "flip_header", "flip_data", "edit_header", "size"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind in ("flip", "flip_header", "flip_data"):
        start = header_size(data) if kind == "flip_data" else 0
        end = header_size(data) if kind == "flip_header" else len(data)
        out = bytearray(data)
        for at in draw(st.lists(st.integers(start, end - 1), min_size=1, max_size=4)):
            out[at] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "size":  # the header length field claims anything, up to far beyond the file
        return draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little") + data[8:]
    header = json.loads(data[8:header_size(data)])
    name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
    field = draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
    header[name][field] = draw({"dtype": st.sampled_from(["F16", "BF16", "I64", "F64", "U8", "BOOL", "F8_E5M2", "X"]),
                                "shape": st.lists(st.integers(0, 2**40), max_size=3),
                                "data_offsets": st.lists(st.integers(0, 2**40), min_size=2, max_size=2)}[field])
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data[header_size(data):]


def bounded(fn, size: int):
    """Run fn; its peak Python/NumPy allocation must stay within a small multiple of the file's size."""
    tracemalloc.start()
    try:
        return fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 20 * size + 2**20, peak


@FUZZ
@given(data=st.data())
def test_damaged_weights_files_fail_cleanly_or_load_unchanged(originals, tmp_path, data):
    raw = data.draw(damaged(originals["weights"]))
    path = tmp_path / "model.safetensors"
    path.write_bytes(raw)
    try:
        state = bounded(lambda: load(path), len(raw))
    except ValueError as err:
        assert str(path) in str(err)
        return
    assert set(state) == set(originals["state"])
    for key, value in originals["state"].items():
        np.testing.assert_array_equal(state[key].numpy(), value)


@FUZZ
@given(data=st.data())
def test_damaged_checkpoints_fail_cleanly_or_restore_unchanged(originals, tmp_path, data):
    raw = data.draw(damaged(originals["checkpoint"]))
    path = tmp_path / "checkpoint.ckpt"
    path.write_bytes(raw)
    model, opt = model_and_optimizer()
    try:
        out = bounded(lambda: load_checkpoint(path, model=model, optimizer=opt), len(raw))
    except ValueError as err:
        assert str(path) in str(err)
        return
    assert out["epoch"] == 1 and out["extra"] == {"note": "x"}
    for key, value in originals["state"].items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value)


TABLE = "a,b,label\n" + "".join(f"{i * 0.5:.1f},{(i * 7) % 5},{'yes' if i % 3 else 'no'}\n" for i in range(12))


@st.composite
def damaged_table(draw):
    """The CSV with cells replaced, quotes, separators, NULs and stray bytes inserted, or cut short."""
    text = TABLE.encode()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "truncate"]))
        if kind == "insert":
            junk = draw(st.sampled_from([b",", b'"', b"\n", b"\r", b"\x00", b"\xff", b"nan", b"inf", b"", b" ",
                                         b"1e999", b"-", b"\xef\xbb\xbf", b'"a,b"', b"x" * 200]))
            text = text[:at] + junk + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 10)):]
        else:
            text = text[:at]
    return text


@pytest.fixture(scope="module")
def sklearn_loaded():
    """load_csv imports scikit-learn on first use (tens of MB): imported before allocations are measured."""
    import sklearn.model_selection  # noqa: F401
    import sklearn.preprocessing  # noqa: F401


@FUZZ
@given(text=damaged_table())
def test_malformed_csv_tables_fail_cleanly(sklearn_loaded, tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_bytes(text)
    try:
        split = bounded(lambda: load_csv(path, "label", scale=False), len(text))
    except ValueError as err:
        assert str(path) in str(err)
    else:
        assert np.isfinite(split.X_train.numpy()).all() and np.isfinite(split.X_test.numpy()).all()
        assert len(split.X_train) + len(split.X_test) <= text.count(b"\n") + 1
    config = {"n_features": 2, "feature_names": ["a", "b"], "data": {"target": "label"}, "model": "mlp"}
    try:
        X = read_input(path, config)
    except CLIError as err:
        assert "\n" not in str(err) and str(path) in str(err) or "--input" in str(err)
    else:
        assert X.shape[1] == 2 and np.isfinite(X).all()
