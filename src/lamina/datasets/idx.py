"""MNIST and Fashion-MNIST from the standard IDX files (gzipped or not), read with NumPy alone."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from lamina.factories import from_numpy
from lamina.serialization import write_atomic
from lamina.tensor import Tensor

# IDX header: two zero bytes, a data type code, the number of dimensions; then each dimension as a
# big-endian uint32; then the values, big-endian, row-major.
IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

SOURCES = {
    "mnist": {
        "mirrors": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        "md5": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
        "classes": tuple(str(d) for d in range(10)),
    },
    "fashion_mnist": {
        "mirrors": ("https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        "md5": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        "classes": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                    "Ankle boot"),
    },
}
DOWNLOAD_TIMEOUT = 15.0  # seconds per request


def read_idx(path, expected_md5: str | None = None) -> np.ndarray:
    """The array in an IDX file, gzipped or not. A corrupt or truncated file raises ValueError naming it."""
    path = Path(path)
    raw = path.read_bytes()
    if expected_md5 is not None:
        actual = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        if actual != expected_md5:
            raise ValueError(f"{path}: MD5 checksum {actual} differs from the official file's {expected_md5}: the file "
                             "is corrupt, truncated or another dataset's; delete it (it is downloaded again) or pass "
                             "verify=False for a file you made yourself")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (its first 4 bytes {raw[:4].hex()} are not 00 00 <type> <ndim> "
                         "with a known type code)")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, {start} needed for {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - start != expected:
        shape = " x ".join(map(str, dims))
        raise ValueError(f"{path}: truncated or corrupt: the header promises {shape} values of {dtype.name} "
                         f"({expected} bytes of data) but the file holds {len(raw) - start}")
    return np.frombuffer(raw, dtype=dtype, offset=start).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def _download(url: str, dest: Path, expected_md5: str | None) -> None:
    """Fetch url into dest atomically, refusing data whose MD5 is not the expected one."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        data = response.read()
    if expected_md5 is not None and hashlib.md5(data, usedforsecurity=False).hexdigest() != expected_md5:
        raise OSError(f"{url}: downloaded data fails the MD5 check")
    write_atomic(dest, data)


def _find_or_fetch(dataset: str, root: Path, name: str, download: bool) -> Path:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    source, failures = SOURCES[dataset], []
    if download:
        root.mkdir(parents=True, exist_ok=True)
        for mirror in source["mirrors"]:
            try:
                _download(mirror + f"{name}.gz", root / f"{name}.gz", source["md5"][f"{name}.gz"])
                return root / f"{name}.gz"
            except OSError as err:
                failures.append(f"{mirror}: {err}")
    wanted = ", ".join(f"{n}.gz" for pair in FILES.values() for n in pair)
    tried = f" and downloading failed ({'; '.join(failures)})" if failures else " (download=False)"
    raise FileNotFoundError(f"{dataset}: {name} is not in {root}{tried}. Put the official files there, gzipped or "
                            f"not: {wanted} (from {source['mirrors'][0]})")


def _load(dataset: str, root, train: bool, download: bool, verify: bool) -> tuple[Tensor, Tensor]:
    root = Path(root).expanduser()
    images_path, labels_path = (_find_or_fetch(dataset, root, name, download) for name in FILES[train])
    md5 = SOURCES[dataset]["md5"]
    images, labels = (read_idx(p, md5.get(p.name) if verify else None) for p in (images_path, labels_path))
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"{images_path}: expected unsigned-byte images (N, rows, cols), got {images.dtype} "
                         f"{images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{labels_path}: expected {len(images)} unsigned-byte labels to match {images_path.name}, "
                         f"got {labels.dtype} {labels.shape}")
    n_classes = len(SOURCES[dataset]["classes"])
    if labels.size and labels.max() >= n_classes:
        raise ValueError(f"{labels_path}: label {labels.max()} is out of range 0..{n_classes - 1}")
    x = images.astype(np.float32) / np.float32(255)
    return from_numpy(x), from_numpy(labels.astype(np.int64))


def mnist(root, train: bool = True, download: bool = True, verify: bool = True) -> tuple[Tensor, Tensor]:
    """Handwritten digits: images (N, 28, 28) float32 in [0, 1] and labels (N,) int64; N = 60000 (train) or 10000.

    Reads the IDX files in ``root`` (gzipped or not); when absent and ``download``, fetches the gzipped ones
    (short timeout, atomic write). ``verify`` checks files bearing an official .gz name against the official
    MD5 checksums; every file is checked for truncation against its header.
    """
    return _load("mnist", root, train, download, verify)


def fashion_mnist(root, train: bool = True, download: bool = True, verify: bool = True) -> tuple[Tensor, Tensor]:
    """Zalando's clothing images, in MNIST's format and shapes; class names in ``FASHION_MNIST_CLASSES``."""
    return _load("fashion_mnist", root, train, download, verify)


FASHION_MNIST_CLASSES = SOURCES["fashion_mnist"]["classes"]


def default_root(dataset: str) -> Path:
    """Where load() keeps MNIST-style files: $LAMINA_DATA/<dataset>, else ~/.cache/lamina/<dataset>."""
    return Path(os.environ.get("LAMINA_DATA", "~/.cache/lamina")).expanduser() / dataset
