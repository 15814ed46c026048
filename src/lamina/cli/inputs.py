"""What ``lamina predict`` reads: raw feature rows (or images) from a .csv or .npy file, every row kept and
every value checked, so that each input row gets exactly one prediction.

The CSV header rule (stated in ``lamina predict --help``): the first row is a header when one of its cells is
text that is not a number; a row of numbers (empty cells included) is data. ``--header`` / ``--no-header``
decide instead. With a header, columns are matched to the run's features by name (a target column is
ignored); a missing or unexpected column is an error that names it. Without one, columns are taken in the
training order. Empty cells, text, NaN and infinities are refused with their line and column.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lamina.cli.runs import CLIError, _message, model_kind
from lamina.datasets.tabular import not_utf8

HEADER_RULE = ("the first row is a header when one of its cells is text that is not a number (a row of numbers, "
               "empty cells included, is data); --header or --no-header decide instead")


def read_input(path: Path, config: dict, header: bool | None = None) -> np.ndarray:
    """Raw feature rows (float64) from a .npy or .csv file, one per input row, all finite."""
    if not path.is_file():
        raise CLIError(f"input file {path} does not exist; check the --input path")
    if path.suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise CLIError(f"cannot read {path} ({_message(err)}), in --input; write it with numpy.save") from None
        if X.dtype.kind not in "biuf":
            raise CLIError(f"{path} holds values of kind {X.dtype.kind!r}, not numbers, in --input; save a numeric "
                           "array")
        _check_finite_array(X, path)
    elif path.suffix == ".csv":
        X = read_csv_features(path, config, header)
    else:
        raise CLIError(f"--input must be a .csv or .npy file, got {path.name}")
    if model_kind(config).images:
        return _image_rows(X, path, config)
    if X.ndim == 0:
        raise CLIError(f"{path} holds a single number, in --input; give rows of {config['n_features']} features")
    if X.ndim == 1:
        X = X.reshape(1, -1)
    X = X.reshape(len(X), -1)
    if X.shape[1] != config["n_features"]:
        raise CLIError(f"{path} has {X.shape[1]} input columns but the model expects {config['n_features']}, in "
                       "--input; give one column per feature")
    return X


def _check_finite_array(X: np.ndarray, path: Path) -> None:
    if X.dtype.kind == "f" and X.size and not np.isfinite(X).all():
        where = np.argwhere(~np.isfinite(X))[0]
        value = X[tuple(where)]
        at = f"row {where[0]}" + (f", column {where[1]}" if len(where) > 1 else "")
        raise CLIError(f"{path} holds {value} at {at} (counted from 0), in --input; every input must be a finite "
                       "number")


def _image_rows(X: np.ndarray, path: Path, config: dict) -> np.ndarray:
    """Images (N, C, H, W), (N, H, W) for one channel, one image, or rows of C·H·W pixels, as pixel rows in
    [0, 1] (uint8 values are divided by 255, as ToTensor does)."""
    shape = tuple(config["image_shape"])
    if X.shape in (shape, shape[1:]) and (X.ndim == 3 or shape[0] == 1):
        X = X[None]  # one image
    if X.dtype == np.uint8:
        X = X.astype(np.float32) / np.float32(255)
    X = X.reshape(len(X), -1) if X.ndim > 1 else X.reshape(1, -1)
    if X.shape[1] != config["n_features"]:
        image = "×".join(map(str, shape))
        raise CLIError(f"{path} holds inputs of {X.shape[1]} values but the model expects {image} images "
                       f"({config['n_features']} pixels each)")
    return X


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv_features(path: Path, config: dict, header: bool | None = None) -> np.ndarray:
    rows, lines = _csv_rows(path)
    if header is None:
        header = any(cell.strip() and not _is_number(cell) for cell in rows[0])
    names = [h.strip() for h in rows[0]] if header else None
    if header:
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise CLIError(f"{path} has a header row but no data rows, in --input; add the rows to predict")
    width = len(names) if names else len(rows[0])
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise CLIError(f"{path}: line {line} has {len(row)} fields but the "
                           f"{'header' if names else 'first row'} has {width}, in --input; give every row the same "
                           "columns")
    columns = _columns(names, config, path) if names else list(range(width))
    labels = [names[c] if names else f"{c + 1}" for c in columns]
    table = np.array(rows, dtype=str)[:, columns] if rows else np.zeros((0, len(columns)), str)
    return _numbers(table, labels, lines, path, named=bool(names))


def _csv_rows(path: Path) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows and their line numbers."""
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not UTF-8 text ({not_utf8(path)}), in --input; save it as UTF-8 (\"CSV UTF-8\" "
                       "in a spreadsheet)") from None
    except (OSError, csv.Error) as err:
        raise CLIError(f"cannot read {path} ({_message(err)}), in --input; check that it is a CSV file") from None
    if not rows:
        raise CLIError(f"{path} is empty, in --input; give one row of features per line")
    return rows, lines


def _columns(names: list[str], config: dict, path: Path) -> list[int]:
    """The header's column index of each training feature, in training order."""
    features = config.get("feature_names") or []
    target = config["data"].get("target")
    kept = [i for i, h in enumerate(names) if h != target]
    if len(features) != config["n_features"]:  # a run without names: by position
        return kept
    duplicates = sorted({h for h in names if names.count(h) > 1})
    if duplicates:
        raise CLIError(f"{path}: the header repeats {', '.join(map(repr, duplicates))}, in --input; name each "
                       "column once")
    missing = [f for f in features if f not in names]
    unexpected = [names[i] for i in kept if names[i] not in features]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_shown(missing)}")
        if unexpected:
            parts.append(f"unexpected {_shown(unexpected)}")
        raise CLIError(f"{path}: the header's columns do not match the run's features ({'; '.join(parts)}), in "
                       f"--input; name the columns as in training ({_shown(features)}), or pass --no-header to "
                       "take them by position")
    return [names.index(f) for f in features]


def _shown(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def _numbers(table: np.ndarray, labels: list[str], lines: list[int], path: Path, named: bool) -> np.ndarray:
    stripped = np.char.strip(table)
    try:
        values = stripped.astype(np.float64)
        bad = ~np.isfinite(values)
    except ValueError:
        values, bad = None, np.array([[not _finite(v) for v in row] for row in stripped], dtype=bool)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        cell = str(stripped[r, c])
        what = "an empty cell" if cell == "" else f"{cell!r}, not a finite number"
        column = f"column {labels[c]!r}" if named else f"column {labels[c]}"
        raise CLIError(f"{path}: line {lines[r]}, {column} holds {what}, in --input; every feature needs a finite "
                       "number (fix or remove that row)")
    return values


def _finite(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False
