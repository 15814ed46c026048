"""Weights and training checkpoints as safetensors files: no pickle, so loading a stranger's file runs no code.

``save``/``load``: a state_dict <-> one file whose tensor names are the PyTorch state_dict keys, so it opens
in PyTorch with ``safetensors.torch.load_file`` (and a file written there loads here).

``save_checkpoint``/``load_checkpoint``: a whole training state in one file. Arrays become tensors named by
their place: ``model/<key>``, ``optimizer/state/<idx>/<name>``. Everything else (optimizer param_groups and
scalar state, scheduler state, epoch, the RNG state, history, extra) is JSON in the file's metadata, one
entry per section, with small markers that keep tuples, NumPy scalars and non-string dict keys exact.

Writes go to a temporary file in the same directory, are flushed to disk, then renamed over the target:
a crash mid-write leaves the previous file intact. Every file lamina writes carries a CRC-32 of each tensor
(its dtype, shape and bytes) and of the rest of the metadata under the metadata key ``lamina.crc32``; loads
verify them and name the file and the tensor whose bytes changed. Files without that key (written by other
safetensors writers) load unverified. Loads check the whole file, and the keys and shapes against the model and
optimizer, before anything is copied. bfloat16 tensors (PyTorch's half-width weights) load as float32, exactly;
other dtypes NumPy has no type for (float8) are refused by name.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError, safe_open

from lamina.dtypes import check_device
from lamina.random import get_rng_state, set_rng_state
from lamina.tensor import Tensor, from_numpy

__all__ = ["save", "load", "load_metadata", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FORMAT = "lamina.checkpoint"
OBJECT_FORMAT = "lamina.object"  # save() of a nested object: tensors by path, the structure as JSON
_SECTIONS = ("model", "optimizer", "scheduler", "epoch", "history", "extra", "rng")
_MARKERS = {"__tensor__", "__scalar__", "__tuple__", "__items__"}
CHECKSUM_KEY = "lamina.crc32"  # metadata entry: {"tensors": {name: crc}, "metadata": crc of the other entries}


# ---------------------------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------------------------
def write_atomic(path, data: bytes) -> None:
    """Write data to path so that readers see either the old file or the complete new one."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the directory {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read(path, arrays: bool = True) -> tuple[dict, dict]:
    """(arrays by name, metadata) of a safetensors file; a clear ValueError naming the file if it is not one, or
    if a lamina checksum does not match. With arrays=False only the header is read (and its checksum checked).
    The returned metadata leaves out lamina's checksum entry."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {key: _get_tensor(path, f, key) for key in f.keys()} if arrays else {}
    except (SafetensorError, TypeError) as err:
        with open(path, "rb") as f:
            head = f.read(4)
        if head == b"PK\x03\x04" or head[:1] == b"\x80":  # torch.save's zip archive, or a bare pickle
            raise ValueError(
                f"{path}: a PyTorch pickle file (torch.save). lamina does not read pickle, because loading one can "
                "run any code it contains. Convert it where you trust it, in PyTorch: "
                "`from safetensors.torch import save_file; save_file(torch.load(path), 'model.safetensors')` "
                "(for a nested checkpoint, save its state dicts one by one)") from None
        raise ValueError(f"{path}: not a readable safetensors file (truncated, corrupt or another format: "
                         f"{_first_line(err)}); restore it from a copy or write it again") from None
    metadata = dict(metadata)
    _verify(path, tensors, metadata, arrays)
    return tensors, metadata


def _detail(err: BaseException) -> str:
    """What went wrong, without Python's type names: a KeyError says which entry is missing."""
    if isinstance(err, KeyError) and err.args:
        return f"no entry {err.args[0]!r}"
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "unreadable"


def _get_tensor(path: Path, f, key: str) -> np.ndarray:
    """One tensor as a NumPy array; bfloat16 widened to float32 (exact: bfloat16 is float32's top 16 bits)."""
    try:
        return f.get_tensor(key)
    except (TypeError, AttributeError):  # a dtype NumPy has no type for
        dtype = f.get_slice(key).get_dtype()
    if dtype != "BF16":
        raise ValueError(f"{path}: tensor {key!r} has dtype {dtype}, which lamina does not read (it reads float, "
                         "int, uint and bool tensors, and bfloat16 as float32); convert it to float32 first")
    start, end, shape = _tensor_location(path, key)
    with open(path, "rb") as fh:
        fh.seek(start)
        raw = fh.read(end - start)
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << np.uint32(16)
    return bits.view(np.float32).reshape(shape)


def _tensor_location(path: Path, key: str) -> tuple[int, int, tuple]:
    """(first byte, end byte, shape) of one tensor in the file (the header was already validated by safetensors)."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
    begin, end = header[key]["data_offsets"]
    return 8 + size + begin, 8 + size + end, tuple(header[key]["shape"])


def _crc(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    head = zlib.crc32(f"{array.dtype.str}{array.shape}".encode())
    return f"{zlib.crc32(array.reshape(-1).view(np.uint8), head):08x}"


def _metadata_crc(metadata: dict) -> str:
    return f"{zlib.crc32(json.dumps(metadata, sort_keys=True).encode()):08x}"


def _checksums(tensors: dict, metadata: dict) -> str:
    return json.dumps({"tensors": {k: _crc(v) for k, v in tensors.items()}, "metadata": _metadata_crc(metadata)})


def _verify(path: Path, tensors: dict, metadata: dict, arrays: bool) -> None:
    """Check lamina's checksums (and drop their entry from ``metadata``); files without them pass unchecked."""
    stored = metadata.pop(CHECKSUM_KEY, None)
    if stored is None:
        return
    try:
        sums = json.loads(stored)
        expected_tensors, expected_meta = dict(sums["tensors"]), sums["metadata"]
    except (ValueError, TypeError, KeyError):
        raise ValueError(f"{path}: corrupt file: its checksum entry {CHECKSUM_KEY!r} is unreadable; restore it "
                         "from a copy or write it again") from None
    if _metadata_crc(metadata) != expected_meta:
        raise ValueError(f"{path}: corrupt file: its metadata fails its checksum (bytes changed after it was "
                         "written); restore it from a copy or write it again")
    if not arrays:
        return
    if set(expected_tensors) != set(tensors):
        raise ValueError(f"{path}: corrupt file: its tensor names differ from the ones it was written with; "
                         "restore it from a copy or write it again")
    for key, array in tensors.items():
        if _crc(array) != expected_tensors[key]:
            raise ValueError(f"{path}: corrupt file: tensor {key!r} fails its checksum (its bytes changed after it "
                             "was written); restore it from a copy or write it again")


def _state_of(obj, what: str) -> Mapping:
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    if isinstance(obj, Mapping):
        return obj
    raise TypeError(f"{what} must have a state_dict() or be a dict of tensors, got {type(obj).__name__}")


def _is_array(value) -> bool:
    return isinstance(value, (Tensor, np.ndarray))


def _array(key: str, value) -> np.ndarray:
    if isinstance(value, Tensor) or hasattr(value, "__array__"):
        return np.require(value.array if isinstance(value, Tensor) else np.asarray(value), requirements="C")
    raise TypeError(f"state_dict[{key!r}] is a {type(value).__name__}, not a tensor or array "
                    "(numbers and text belong in metadata)")


def _serialize(tensors: dict, metadata: dict | None) -> bytes:
    for key, array in tensors.items():
        if array.dtype.kind not in "biufc":
            raise TypeError(f"cannot save {key!r}: dtype {array.dtype} is not numeric")
    metadata = dict(metadata or {})
    bad = {k: type(v).__name__ for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))}
    if bad:
        raise TypeError(f"metadata must map str to str (safetensors stores text); got {bad}")
    if CHECKSUM_KEY in metadata:
        raise ValueError(f"metadata key {CHECKSUM_KEY!r} is lamina's own (the file's checksums)")
    metadata[CHECKSUM_KEY] = _checksums(tensors, metadata)
    return safetensors.numpy.save(tensors, metadata=metadata)


# ---------------------------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------------------------
def save(obj, path, metadata: dict[str, str] | None = None) -> None:
    """Write ``obj`` to ``path`` as safetensors, atomically; ``metadata``: str -> str.

    A state_dict (or a module, whose state_dict is taken) becomes one tensor per key, named as in PyTorch, so the
    file opens with ``safetensors.torch.load_file``. Anything else PyTorch users save (nested dicts and lists of
    tensors, numbers, strings, None: ``{'model': model.state_dict(), 'optimizer': opt.state_dict(), 'epoch': 3}``)
    is stored the same way without pickle: the tensors by their path (``model/fc.weight``), the structure as JSON
    in the file's metadata.
    """
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if isinstance(obj, Mapping) and all(isinstance(k, str) and _is_array(v) for k, v in obj.items()):
        tensors = {key: _array(key, value) for key, value in obj.items()}
    else:
        tensors = {}
        structure = json.dumps(_encode(obj, "", tensors), allow_nan=True)
        metadata = {**(metadata or {}), "format": OBJECT_FORMAT, "object": structure}
    write_atomic(path, _serialize(tensors, metadata))


def load(path, model=None, *, strict: bool = True, map_location=None, weights_only=None):
    """What ``save`` wrote: an OrderedDict of lamina Tensors for a state_dict file (dtypes as stored), or the
    nested object for one written from a dict of state dicts and values. Any safetensors file loads as a state_dict.

    With ``model``, the tensors are first checked against ``model.state_dict()`` (names unless ``strict=False``,
    and shapes), then copied in with ``model.load_state_dict``; on any mismatch the model is left untouched.
    ``map_location`` and ``weights_only`` are accepted for PyTorch scripts: everything loads on the CPU, and no
    code ever runs (there is no pickle).
    """
    if map_location is not None and not callable(map_location) and not isinstance(map_location, Mapping):
        check_device(map_location)
    arrays, metadata = _read(path)
    if metadata.get("format") == OBJECT_FORMAT:
        if model is not None:
            raise ValueError(f"{path}: holds a nested object, not one state_dict; load it with lamina.load(path) and "
                             "pass its state dict to model.load_state_dict")
        return _decode(json.loads(metadata["object"]), arrays)
    state = OrderedDict((key, from_numpy(array)) for key, array in arrays.items())
    if model is not None:
        if metadata.get("format") == CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: this is a training checkpoint, not a weights file; "
                             "use lamina.load_checkpoint(path, model=...)")
        _check_state(path, state, model.state_dict(), strict)
        model.load_state_dict(state, strict=strict)
    return state


def load_metadata(path) -> dict[str, str]:
    """The str -> str metadata stored in a safetensors file's header."""
    return _read(path, arrays=False)[1]


def _check_state(path, state: Mapping, expected: Mapping, strict: bool = True) -> None:
    """Raise one ValueError naming the file and every missing/unexpected key and shape mismatch."""
    problems = []
    if strict:
        for label, keys in (("missing", [k for k in expected if k not in state]),
                            ("unexpected", [k for k in state if k not in expected])):
            if keys:
                shown = ", ".join(repr(k) for k in keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
                problems.append(f"{label} keys {shown}")
    for key, target in expected.items():
        if key in state and tuple(state[key].shape) != tuple(target.shape):
            problems.append(f"key {key!r} has shape {tuple(state[key].shape)} but the model expects "
                            f"{tuple(target.shape)}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------------
def _encode(value, name: str, tensors: dict):
    """A JSON-ready copy of value; each array inside moves to tensors[name] and leaves a reference."""
    if isinstance(value, (Tensor, np.ndarray)):
        name = name or "tensor"  # save(a_tensor)
        if name in tensors:
            raise ValueError(f"checkpoint: two arrays would share the name {name!r}")
        tensors[name] = _array(name, value)
        return {"__tensor__": name, "as": type(value).__name__ if isinstance(value, Tensor) else "ndarray"}
    if isinstance(value, np.generic):
        return {"__scalar__": value.dtype.name, "value": value.item()}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and not _MARKERS & set(value):
            return {k: _encode(v, _path(name, k), tensors) for k, v in value.items()}
        return {"__items__": [[_encode(k, name, {}), _encode(v, _path(name, k), tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, _path(name, i), tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {name!r}, a {type(value).__name__}, in a safetensors file: "
                    "only arrays, numbers, strings, None, lists, tuples and dicts")


def _path(name: str, key) -> str:
    return f"{name}/{key}" if name else str(key)


def _decode(value, tensors: dict):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        array = tensors[value["__tensor__"]]
        return from_numpy(array) if value["as"] == "Tensor" else array
    if "__scalar__" in value:
        return np.dtype(value["__scalar__"]).type(value["value"])
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value["__items__"]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def save_checkpoint(path, *, model, optimizer=None, scheduler=None, epoch: int | None = None, history=None,
                    extra=None) -> None:
    """Write model, optimizer and scheduler state, epoch, history, extra and lamina's RNG state to one file,
    atomically. ``history`` may be a dict or anything with ``to_dict()``; ``extra``: JSON-like data and arrays."""
    if hasattr(history, "to_dict"):
        history = history.to_dict()
    sections = {
        "model": _state_of(model, "save_checkpoint: model"),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "epoch": epoch, "history": history, "extra": extra, "rng": get_rng_state(),
    }
    tensors, metadata = {}, {"format": CHECKPOINT_FORMAT, "version": "1"}
    for name, value in sections.items():
        metadata[name] = json.dumps(_encode(value, name, tensors))
    write_atomic(path, _serialize(tensors, metadata))


def load_checkpoint(path, *, model=None, optimizer=None, scheduler=None, restore_rng: bool = True) -> dict:
    """Restore what ``save_checkpoint`` wrote into the given model/optimizer/scheduler and lamina's RNG, so a
    resumed run continues bit for bit. Everything is checked before anything changes.

    Returns {'epoch', 'history', 'extra', 'model', 'optimizer', 'scheduler'} (the last three: the stored states).
    """
    tensors, metadata = _read(path)
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a lamina checkpoint (no format tag {CHECKPOINT_FORMAT!r} in its metadata); "
                         "a weights file loads with lamina.load(path, model)")
    try:
        sections = {name: _decode(json.loads(metadata[name]), tensors) for name in _SECTIONS}
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{path}: corrupt checkpoint metadata ({_detail(err)}); restore it from a copy or write "
                         "it again") from None

    for obj, name in ((model, "model"), (optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is not None and sections[name] is None:
            raise ValueError(f"{path}: the checkpoint holds no {name} state")
    if model is not None:
        _check_state(path, sections["model"], model.state_dict())
    if optimizer is not None:
        _check_optimizer(path, sections["optimizer"], optimizer)
    if restore_rng:
        _check_rng(path, sections["rng"])

    if model is not None:
        model.load_state_dict(sections["model"])
    if optimizer is not None:
        optimizer.load_state_dict(sections["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(sections["scheduler"])
    if restore_rng:
        set_rng_state(sections["rng"])
    return {name: sections[name] for name in ("epoch", "history", "extra", "model", "optimizer", "scheduler")}


def _check_optimizer(path, saved, optimizer) -> None:
    """As torch's Optimizer.load_state_dict checks (group and parameter counts), plus state array shapes."""
    try:
        saved_groups, state = saved["param_groups"], saved["state"]
        groups = optimizer.param_groups
        if len(saved_groups) != len(groups):
            raise ValueError(f"{len(saved_groups)} parameter groups but the optimizer has {len(groups)}")
        params = {}
        for i, (saved_group, group) in enumerate(zip(saved_groups, groups)):
            if len(saved_group["params"]) != len(group["params"]):
                raise ValueError(f"group {i} has {len(saved_group['params'])} parameters but the optimizer's "
                                 f"has {len(group['params'])}")
            params.update(zip(saved_group["params"], group["params"]))
        for idx, entry in state.items():
            if idx not in params:
                raise ValueError(f"state for parameter {idx!r}, which no parameter group lists")
            for name, value in entry.items():
                shape = tuple(np.shape(value.array if isinstance(value, Tensor) else value))
                if shape and shape != tuple(params[idx].shape):
                    raise ValueError(f"state {name!r} of parameter {idx} has shape {shape} but the parameter has "
                                     f"shape {tuple(params[idx].shape)}")
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path}: malformed optimizer state ({_detail(err)}); restore it from a copy or write it "
                         "again") from None
    except ValueError as err:
        raise ValueError(f"{path}: optimizer state does not fit the optimizer: {err}") from None


def _check_rng(path, state) -> None:
    try:
        getattr(np.random, state["bit_generator"])().state = state
    except Exception as err:  # any failure means the stored state is unusable
        raise ValueError(f"{path}: invalid RNG state in the checkpoint ({_detail(err)}); restore it from a copy or "
                         "write it again") from None
