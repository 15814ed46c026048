"""Train/test splits of feature tables: scikit-learn's bundled datasets and CSV files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lamina.factories import from_numpy
from lamina.tensor import Tensor

CLASSIFICATION, REGRESSION = "classification", "regression"
MAX_CLASSES_INFERRED = 20  # an integer target with at most this many distinct values is read as class labels


@dataclass(frozen=True)
class DatasetSplit:
    """A dataset split for training: float32 features; int64 class labels (N,) or float32 targets (N, 1).

    ``target_names`` are the class names for classification, the target's name for regression. ``scaler`` is
    the StandardScaler fitted on X_train (None when unscaled): apply it to new inputs before predicting.
    """

    name: str
    X_train: Tensor
    X_test: Tensor
    y_train: Tensor
    y_test: Tensor
    task: str
    n_features: int
    n_classes: int | None
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    scaler: object | None = None


def make_split(name, x, y, task, feature_names, target_names, test_size=0.2, seed=0, scale=True,
               test=None) -> DatasetSplit:
    """Split (x, y) with scikit-learn's train_test_split (stratified for classification), or use the given
    ``test`` pair, then standardise with a StandardScaler fitted on the training part only."""
    from sklearn.model_selection import train_test_split  # scikit-learn takes ~1 s to import: on first use
    from sklearn.preprocessing import StandardScaler  # as above

    if test is not None:
        (x_train, y_train), (x_test, y_test) = (x, y), test
    else:
        try:
            x_train, x_test, y_train, y_test = train_test_split(
                x, y, test_size=test_size, random_state=seed, stratify=y if task == CLASSIFICATION else None)
        except ValueError as err:
            raise ValueError(f"{name}: cannot split {len(y)} samples with test_size={test_size}: {err}") from None
    scaler = None
    if scale:
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    if task == CLASSIFICATION:
        y_train, y_test = (np.asarray(v, dtype=np.int64) for v in (y_train, y_test))
    else:
        y_train, y_test = (np.asarray(v, dtype=np.float32).reshape(-1, 1) for v in (y_train, y_test))
    x_train, x_test = (np.asarray(v, dtype=np.float32) for v in (x_train, x_test))
    return DatasetSplit(
        name=name, X_train=from_numpy(x_train), X_test=from_numpy(x_test), y_train=from_numpy(y_train),
        y_test=from_numpy(y_test),
        task=task, n_features=x_train.shape[1], n_classes=len(target_names) if task == CLASSIFICATION else None,
        feature_names=tuple(str(f) for f in feature_names), target_names=tuple(str(t) for t in target_names),
        scaler=scaler)


SKLEARN_LOADERS = {"digits": "load_digits", "breast_cancer": "load_breast_cancer", "iris": "load_iris",
                   "wine": "load_wine", "diabetes": "load_diabetes"}


def load_sklearn(name: str, test_size=0.2, seed=0, scale=True) -> DatasetSplit:
    """One of scikit-learn's bundled datasets (shipped with it: nothing is downloaded)."""
    import sklearn.datasets  # as above

    bunch = getattr(sklearn.datasets, SKLEARN_LOADERS[name])()
    if name == "diabetes":
        return make_split(name, bunch.data, bunch.target, REGRESSION, bunch.feature_names, ("disease_progression",),
                          test_size, seed, scale)
    return make_split(name, bunch.data, bunch.target, CLASSIFICATION, bunch.feature_names, bunch.target_names,
                      test_size, seed, scale)


# ---------------------------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------------------------
def load_csv(path, target: str, task: str | None = None, test_size: float = 0.2, seed: int = 0,
             scale: bool = True) -> DatasetSplit:
    """A CSV table with a header row: every column but ``target`` is a numeric feature.

    ``task`` None infers it: a non-numeric target, or whole numbers with at most 20 distinct values, means
    classification (labels become int64 codes 0..K-1 in sorted order; ``target_names`` keeps the original
    labels); anything else is regression. Pass task='classification' or 'regression' to decide yourself.
    """
    path = Path(path)
    header, rows, lines = _read_csv(path)
    if target not in header:
        raise ValueError(f"{path}: no column {target!r}; the columns are: {', '.join(header)}")
    t = header.index(target)
    table = np.char.strip(np.array(rows, dtype=str))
    feature_names = [h for i, h in enumerate(header) if i != t]
    if not feature_names:
        raise ValueError(f"{path}: the table has no feature columns besides the target {target!r}")
    x = np.stack([_numeric(table[:, i], header[i], lines, path) for i in range(len(header)) if i != t], axis=1)

    labels = table[:, t]
    if np.any(labels == ""):
        raise ValueError(f"{path}: target {target!r} is missing on line {lines[int(np.argmax(labels == ''))]}")
    try:
        values = labels.astype(np.float64)
    except ValueError:
        values = None
    if values is not None and not np.isfinite(values).all():
        i = int(np.argmax(~np.isfinite(values)))
        raise ValueError(f"{path}: line {lines[i]}, target {target!r} is {str(labels[i])!r}, not a finite number; "
                         "fix or remove that row")
    whole = values is not None and bool(np.all(values == np.round(values)))
    if task is None:
        few = values is None or len(np.unique(values)) <= MAX_CLASSES_INFERRED
        task = CLASSIFICATION if values is None or (whole and few) else REGRESSION
    if task == REGRESSION:
        if values is None:
            _numeric(labels, target, lines, path)  # raises, naming the first non-numeric value
        return _split(path, x, values, REGRESSION, feature_names, (target,), test_size, seed, scale)
    if task != CLASSIFICATION:
        raise ValueError(f"load_csv: task must be 'classification', 'regression' or None, got {task!r}")
    if values is not None:
        if not whole:
            raise ValueError(f"{path}: target {target!r} has non-integer values such as "
                             f"{str(labels[values != np.round(values)][0])!r}; use task='regression'")
        labels = values.astype(np.int64)
    classes, codes = np.unique(labels, return_inverse=True)
    return _split(path, x, codes, CLASSIFICATION, feature_names, classes, test_size, seed, scale)


def _split(path: Path, *args) -> DatasetSplit:
    try:
        return make_split(path.stem, *args)
    except ValueError as err:  # too few rows (or rows of a class) to split: name the file, not just its stem
        raise ValueError(f"{path}: {str(err).split(': ', 1)[-1]}; add rows or change the test size") from None


def _read_csv(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, rows, line number of each row); blank lines are skipped, ragged rows refused."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _read_rows(path, csv.reader(f))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text ({not_utf8(path)}); save it as UTF-8 (\"CSV UTF-8\" in a "
                         "spreadsheet)") from None
    except csv.Error as err:
        raise ValueError(f"{path}: not a readable CSV file ({err}); check its quoting") from None


def not_utf8(path: Path) -> str:
    """Where a file stops being UTF-8: 'byte 0xe9 on line 3' (for the error that names the encoding problem)."""
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return f"byte 0x{data[err.start]:02x} on line {line}"
    return "it decodes only in part"


def _read_rows(path: Path, reader) -> tuple[list[str], list[list[str]], list[int]]:
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise ValueError(f"{path}: the file is empty (expected a header row of column names)")
    header = [h.strip() for h in header]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate column names {duplicates}")
    rows, lines = [], []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}: line {reader.line_num} has {len(row)} fields but the header has "
                             f"{len(header)}")
        rows.append(row)
        lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path}: no data rows below the header")
    return header, rows, lines


def _numeric(column: np.ndarray, name: str, lines: list[int], path: Path) -> np.ndarray:
    """The column as float64; a ValueError naming the column, the value and its line otherwise."""
    try:
        values = column.astype(np.float64)
        bad = ~np.isfinite(values)
    except ValueError:
        bad = np.array([not _is_number(v) for v in column])
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{path}: column {name!r} is not numeric: {str(column[i])!r} on line {lines[i]} "
                         "(missing and non-finite values are not supported)")
    return values


def _is_number(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False
