import gzip
import hashlib
import io

import numpy as np
import pytest

from lamina import datasets
from lamina.datasets import idx as mnist_module

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
         np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, CODES[big.dtype], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + big.tobytes()


def write_idx(path, array, gz=False):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def fake_split(root, n, train=True, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images_name, labels_name = mnist_module.FILES[train]
    suffix = ".gz" if gz else ""
    write_idx(root / (images_name + suffix), images, gz)
    write_idx(root / (labels_name + suffix), labels, gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_reads_idx_files_plain_and_gzipped(tmp_path, gz):
    images, labels = fake_split(tmp_path, 6, train=True, gz=gz)
    test_images, test_labels = fake_split(tmp_path, 3, train=False, gz=gz, seed=1)
    x, y = datasets.mnist(tmp_path, train=True, download=False, verify=False)
    assert x.shape == (6, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.array, images.astype(np.float32) / 255)
    assert y.tolist() == labels.tolist() and x.array.max() <= 1.0
    xt, yt = datasets.fashion_mnist(tmp_path, train=False, download=False, verify=False)
    assert xt.shape == (3, 28, 28) and yt.tolist() == test_labels.tolist()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_every_type_code_and_byte_order(tmp_path, dtype):
    values = (np.arange(24).reshape(2, 3, 4) - 5).astype(np.dtype(dtype).newbyteorder("="))
    if np.dtype(dtype) == np.uint8:
        values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    array = datasets.read_idx(write_idx(tmp_path / "a.idx", values))
    assert array.shape == (2, 3, 4) and array.dtype.isnative
    np.testing.assert_array_equal(array, values)


def test_truncated_and_padded_files_are_refused(tmp_path):
    fake_split(tmp_path, 4)
    path = tmp_path / "train-images-idx3-ubyte"
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated or corrupt: the header promises "
                                         r"4 x 28 x 28 values of uint8 \(3136 bytes of data\) but the file holds 3036"):
        datasets.mnist(tmp_path, download=False, verify=False)
    path.write_bytes(data + b"\0")
    with pytest.raises(ValueError, match="holds 3137"):
        datasets.mnist(tmp_path, download=False, verify=False)
    path.write_bytes(data[:10])
    with pytest.raises(ValueError, match=r"truncated IDX header \(10 bytes, 16 needed for 3 dimensions\)"):
        datasets.read_idx(path)
    path.write_bytes(b"PK\x03\x04 a zip file, not idx")
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: not an IDX file \(its first 4 bytes 504b0304"):
        datasets.read_idx(path)


def test_corrupt_gzip_is_refused(tmp_path):
    fake_split(tmp_path, 4, gz=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    data = path.read_bytes()
    path.write_bytes(data[:-12])  # cut inside the stream
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz: corrupt or truncated gzip data"):
        datasets.mnist(tmp_path, download=False, verify=False)
    path.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:-4]) + data[-4:])  # wrong CRC32
    with pytest.raises(ValueError, match=r"corrupt or truncated gzip data \(CRC check failed"):
        datasets.mnist(tmp_path, download=False, verify=False)


def test_official_names_are_checked_against_official_md5(tmp_path):
    fake_split(tmp_path, 4, gz=True)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: MD5 checksum [0-9a-f]{32} differs from "
                                         r"the official file's f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        datasets.mnist(tmp_path, download=False)
    with pytest.raises(ValueError, match="differs from the official file's 8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        datasets.fashion_mnist(tmp_path, download=False)
    assert datasets.mnist(tmp_path, download=False, verify=False)[0].shape == (4, 28, 28)


def test_mismatched_images_and_labels(tmp_path):
    fake_split(tmp_path, 4)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: expected 4 unsigned-byte labels to match "
                                         r"train-images-idx3-ubyte, got uint8 \(3,\)"):
        datasets.mnist(tmp_path, download=False, verify=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 2, 3, 12], np.uint8))
    with pytest.raises(ValueError, match=r"label 12 is out of range 0\.\.9"):
        datasets.mnist(tmp_path, download=False, verify=False)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 784), np.uint8))
    with pytest.raises(ValueError, match=r"expected unsigned-byte images \(N, rows, cols\), got uint8 \(4, 784\)"):
        datasets.mnist(tmp_path, download=False, verify=False)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"mnist: train-images-idx3-ubyte is not in {tmp_path} "
                                                r"\(download=False\)\. Put the official files there, gzipped or not: "
                                                r"train-images-idx3-ubyte\.gz, train-labels-idx1-ubyte\.gz, "
                                                r"t10k-images-idx3-ubyte\.gz, t10k-labels-idx1-ubyte\.gz"):
        datasets.mnist(tmp_path, download=False)


def test_failed_download_names_directory_and_files(tmp_path, monkeypatch):
    calls = []

    def offline(url, dest, expected_md5):
        calls.append(url)
        raise OSError("Network is unreachable")

    monkeypatch.setattr(mnist_module, "_download", offline)
    root = tmp_path / "data"
    with pytest.raises(FileNotFoundError, match=rf"fashion_mnist: t10k-images-idx3-ubyte is not in {root} and "
                                                r"downloading failed \(https://.*Network is unreachable; https://.*"
                                                r"Network is unreachable\)\. Put the official files there.*"
                                                r"t10k-labels-idx1-ubyte\.gz"):
        datasets.fashion_mnist(root, train=False)
    assert calls == [m + "t10k-images-idx3-ubyte.gz" for m in mnist_module.SOURCES["fashion_mnist"]["mirrors"]]


def test_download_writes_verified_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    payloads = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(rng.integers(0, 256, (5, 28, 28), np.uint8))),
                "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.arange(5, dtype=np.uint8)))}
    for name, data in payloads.items():  # pretend these small files are the official ones
        monkeypatch.setitem(mnist_module.SOURCES["mnist"]["md5"], name, hashlib.md5(data).hexdigest())
    urls = []

    def fake_urlopen(url, timeout):
        urls.append((url, timeout))
        if "ossci" in url:
            raise OSError("HTTP Error 403: Forbidden")
        return io.BytesIO(payloads[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(mnist_module.urllib.request, "urlopen", fake_urlopen)
    root = tmp_path / "new" / "mnist"
    x, y = datasets.mnist(root)  # verify=True: the written files pass the (patched) official checksums
    assert x.shape == (5, 28, 28) and y.tolist() == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in root.iterdir()) == sorted(payloads)
    assert all(timeout == mnist_module.DOWNLOAD_TIMEOUT for _, timeout in urls)
    assert len(urls) == 4  # each file: first mirror refused, second served


def test_download_with_wrong_checksum_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(b"garbage"))
    with pytest.raises(FileNotFoundError, match="downloaded data fails the MD5 check"):
        datasets.mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_load_mnist_flattens_official_split(tmp_path):
    images, labels = fake_split(tmp_path, 8)
    test_images, _ = fake_split(tmp_path, 4, train=False, seed=1)
    split = datasets.load("mnist", root=tmp_path, verify=False, scale=False, download=False)
    assert split.X_train.shape == (8, 784) and split.X_test.shape == (4, 784) and split.n_features == 784
    np.testing.assert_array_equal(split.X_test.array, test_images.reshape(4, 784) / np.float32(255))
    assert split.y_train.tolist() == labels.tolist() and split.n_classes == 10
    assert split.feature_names[29] == "pixel_1_1"
    fashion = datasets.load("fashion_mnist", root=tmp_path, verify=False, download=False)
    assert fashion.target_names[9] == "Ankle boot"
    np.testing.assert_allclose(fashion.X_train.array.mean(axis=0), 0, atol=1e-5)
