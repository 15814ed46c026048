"""The lamina command: train / evaluate / predict / plot / info, resuming, and one-line errors for bad input."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import lamina
from lamina.cli import main


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(capsys, *argv, match):
    code, out, err = run_cli(capsys, *argv)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lamina: error: ")
    assert match in lines[0], lines[0]
    assert "Traceback" not in err + out


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "xor"
    assert main(["train", "--data", "xor", "--out", str(run), "--no-progress"]) == 0
    return run


def test_train_writes_a_complete_run_folder(xor_run, capsys):
    for name in ("model.safetensors", "config.json", "history.json", "metrics.json", "loss.png", "checkpoint.ckpt"):
        assert (xor_run / name).is_file(), name
    config = json.loads((xor_run / "config.json").read_text())
    assert config["dataset"] == "xor" and config["task"] == "classification"
    assert (config["n_features"], config["n_outputs"], config["hidden"]) == (2, 2, [8])
    assert config["activation"] == "tanh" and config["class_names"] == ["0", "1"]
    assert config["scaler"] == {"mean": [0.5, 0.5], "scale": [0.5, 0.5]}
    assert json.loads((xor_run / "metrics.json").read_text())["accuracy"] == 1.0
    history = json.loads((xor_run / "history.json").read_text())
    assert len(history["history"]["loss"]) == config["epochs"]
    assert history["history"]["loss"][-1] < 0.1
    weights = lamina.load(xor_run / "model.safetensors")
    assert sorted(weights) == ["0.bias", "0.weight", "2.bias", "2.weight"]


def test_train_prints_test_accuracy(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", "--data", "xor", "--out", tmp_path / "r", "--epochs", "100")
    assert code == 0
    assert "test accuracy: 1.0000" in out
    assert "epoch 100/100" in err  # progress bars on stderr by default


def test_evaluate_info_and_plot(xor_run, capsys):
    code, out, _ = run_cli(capsys, "evaluate", xor_run)
    assert code == 0 and "test accuracy: 1.0000" in out
    code, out, _ = run_cli(capsys, "info", xor_run)
    assert code == 0
    assert "parameters: 42" in out  # 2·8 + 8 + 8·2 + 2
    assert "Linear(in_features=2, out_features=8" in out and "Tanh()" in out
    assert "accuracy=1.0000" in out
    code, out, _ = run_cli(capsys, "plot", xor_run)
    assert code == 0
    for name in ("loss.png", "confusion_matrix.png", "decision_boundary.png", "gradient_norms.png"):
        assert (xor_run / name).read_bytes()[:4] == b"\x89PNG" and name in out


def test_predict_from_csv_and_npy(xor_run, tmp_path, capsys):
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("x2,x1\n1,0\n1,1\n0,0\n")  # header columns are matched by name
    code, out, _ = run_cli(capsys, "predict", xor_run, "--input", csv_path)
    assert code == 0 and out.split() == ["1", "0", "0"]
    npy = tmp_path / "in.npy"
    np.save(npy, np.array([[0, 1], [1, 0], [1, 1]], dtype=np.float64))
    code, out, _ = run_cli(capsys, "predict", xor_run, "--input", npy, "--output", tmp_path / "p.csv")
    assert code == 0 and "3 predictions" in out
    assert (tmp_path / "p.csv").read_text().split() == ["prediction", "1", "1", "0"]


def test_resume_continues_bit_for_bit(tmp_path, capsys):
    """Three epochs, then resumed to six, equal six epochs in one go (shuffling and dropout included)."""
    common = ["--data", "iris", "--dropout", "0.3", "--no-progress"]
    assert main(["train", *common, "--epochs", "3", "--out", str(tmp_path / "a")]) == 0
    assert main(["train", "--resume", str(tmp_path / "a"), "--epochs", "6", "--no-progress"]) == 0
    assert main(["train", *common, "--epochs", "6", "--out", str(tmp_path / "b")]) == 0
    a, b = lamina.load(tmp_path / "a" / "model.safetensors"), lamina.load(tmp_path / "b" / "model.safetensors")
    for k in b:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    history = json.loads((tmp_path / "a" / "history.json").read_text())
    assert history["epoch"] == list(range(6))
    assert json.loads((tmp_path / "a" / "config.json").read_text())["epochs"] == 6
    capsys.readouterr()


def test_csv_regression_and_predict_with_target_column(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 10 + 0.1 * rng.normal(size=200)
    lines = ["a,b,price"] + [f"{a:.5f},{b:.5f},{t:.5f}" for (a, b), t in zip(X, y)]
    (tmp_path / "houses.csv").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", "--csv", tmp_path / "houses.csv", "--target", "price", "--out", run,
                           "--epochs", "60", "--no-progress")
    assert code == 0
    r2 = float(out.split("test r2: ")[1].split()[0])
    assert r2 > 0.95
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "regression" and config["feature_names"] == ["a", "b"]
    (tmp_path / "new.csv").write_text("price,a,b\n0,1,1\n0,0,0\n")  # the target column is ignored
    code, out, _ = run_cli(capsys, "predict", run, "--input", tmp_path / "new.csv")
    assert code == 0
    np.testing.assert_allclose([float(v) for v in out.split()], [11, 10], atol=0.5)


def write_idx(path, array):
    header = b"\0\0\x08" + bytes([array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_root_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 50, (n, 28, 28))
        images[np.arange(n), labels, :] = 255  # the label is the bright row: learnable
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)
    code, out, _ = run_cli(capsys, "train", "--data", "mnist", "--root", tmp_path, "--epochs", "15",
                           "--out", tmp_path / "run", "--no-progress")
    assert code == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["n_features"] == 784
    assert float(out.split("test accuracy: ")[1].split()[0]) >= 0.9
    assert_error(capsys, "train", "--data", "fashion_mnist", "--root", tmp_path / "empty", match="is not in")


def test_bad_arguments(capsys, tmp_path):
    assert_error(capsys, "train", "--data", "imagenet", match="unknown dataset 'imagenet'")
    assert_error(capsys, "train", "--hidden", "64,x", match="--hidden")
    assert_error(capsys, "train", "--epochs", "many", match="--epochs")
    assert_error(capsys, "train", "--activation", "swish", match="--activation")
    assert_error(capsys, "train", "--dropout", "1.5", match="--dropout")
    assert_error(capsys, "train", "--csv", tmp_path / "x.csv", match="--target")
    assert_error(capsys, "train", "--data", "xor", "--task", "regression", match="classification")
    assert_error(capsys, "frobnicate", match="invalid choice")
    assert_error(capsys, "predict", tmp_path, match="--input")
    assert_error(capsys, "train", "--test-size", "1.5", match="--test-size")
    assert_error(capsys, "train", "--resume", tmp_path, "--hidden", "4", match="--hidden cannot change")


def test_bad_files(xor_run, capsys, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    assert_error(capsys, "train", "--csv", table, "--target", "price", match="no column 'price'")
    assert_error(capsys, "train", "--csv", tmp_path / "none.csv", "--target", "y", match="none.csv")
    assert_error(capsys, "evaluate", tmp_path / "missing", match="does not exist")
    assert_error(capsys, "info", tmp_path, match="config.json is missing")
    assert_error(capsys, "train", "--resume", tmp_path, match="config.json is missing")

    wide = tmp_path / "wide.csv"
    wide.write_text("1,2,3\n4,5,6\n")
    assert_error(capsys, "predict", xor_run, "--input", wide, match="3 input columns but the model expects 2")
    words = tmp_path / "words.csv"
    words.write_text("x1,x2\n1,two\n")
    assert_error(capsys, "predict", xor_run, "--input", words, match="line 2, column 'x2' holds 'two'")
    assert_error(capsys, "predict", xor_run, "--input", tmp_path / "nope.csv", match="does not exist")
    assert_error(capsys, "predict", xor_run, "--input", table.with_suffix(".txt"), match="does not exist")
    (tmp_path / "in.txt").write_text("1,2\n")
    assert_error(capsys, "predict", xor_run, "--input", tmp_path / "in.txt", match=".csv or .npy")

    broken = tmp_path / "broken"
    shutil.copytree(xor_run, broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    assert_error(capsys, "evaluate", broken, match="model.safetensors")
    (broken / "model.safetensors").write_bytes(b"not weights at all")
    assert_error(capsys, "predict", broken, "--input", wide, match="model.safetensors")
    (broken / "config.json").write_text("{not json")
    assert_error(capsys, "info", broken, match="config.json")
    (broken / "config.json").write_text(json.dumps({"task": "classification"}))
    assert_error(capsys, "info", broken, match="missing n_features")


def test_console_script_exit_status_and_one_line_error(tmp_path):
    exe = shutil.which("lamina")
    cmd = [exe] if exe else [sys.executable, "-m", "lamina.cli"]
    result = subprocess.run([*cmd, "evaluate", str(tmp_path / "nothing")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"lamina: error: run folder {tmp_path / 'nothing'} does not exist"
    assert result.stdout == ""


def test_without_matplotlib_train_notes_it_and_plot_fails_cleanly(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, out, err = run_cli(capsys, "train", "--data", "xor", "--out", tmp_path / "r", "--no-progress")
    assert code == 0 and "test accuracy: 1.0000" in out
    assert "note: loss curve not plotted" in err and "pip install lamina[plot]" in err
    assert not (tmp_path / "r" / "loss.png").exists()
    assert_error(capsys, "plot", tmp_path / "r", match="pip install lamina[plot]")
