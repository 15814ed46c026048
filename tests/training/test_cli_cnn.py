"""`lamina train --model cnn`: training, evaluation, prediction, plots, info, graph and resume on image data, and
one-line errors that name the flag."""

import json

import numpy as np
import pytest
from test_cli import assert_error, run_cli, write_idx
from threadpoolctl import threadpool_limits

import lamina
from lamina import datasets
from lamina.cli import main

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "digits-cnn"
    with threadpool_limits(1):
        assert main(["train", "--model", "cnn", "--data", "digits", "--epochs", "2", "--out", str(run),
                     "--no-progress"]) == 0
    return run


def test_train_writes_a_cnn_run(cnn_run):
    config = json.loads((cnn_run / "config.json").read_text())
    assert config["model"] == "cnn" and config["image_shape"] == [1, 8, 8] and config["n_features"] == 64
    assert (config["channels"], config["kernel_size"], config["hidden"]) == ([6, 16], 5, [120, 84])
    assert config["normalize"]["mean"][0] == pytest.approx(datasets.load_images("digits").X_train.array.mean())
    weights = lamina.load(cnn_run / "model.safetensors")
    assert weights["0.weight"].shape == (6, 1, 5, 5) and weights["3.weight"].shape == (16, 6, 5, 5)
    assert json.loads((cnn_run / "metrics.json").read_text())["accuracy"] >= 0.8  # 0.86 measured, seed 0


def test_evaluate_info_plot_and_graph(cnn_run, capsys):
    code, out, _ = run_cli(capsys, "evaluate", cnn_run)
    accuracy = json.loads((cnn_run / "metrics.json").read_text())["accuracy"]
    assert code == 0 and f"test accuracy: {accuracy:.4f}" in out
    code, out, _ = run_cli(capsys, "info", cnn_run)
    assert code == 0 and "model kind: cnn" in out and "1×8×8 images, 10 outputs" in out
    assert "Conv2d(1, 6, kernel_size=(5, 5)" in out and "parameters: 21,386" in out
    code, out, _ = run_cli(capsys, "plot", cnn_run)
    assert code == 0
    for name in ("loss.png", "confusion_matrix.png", "filters.png", "feature_maps.png"):
        assert (cnn_run / name).read_bytes()[:4] == b"\x89PNG" and name in out
    assert not (cnn_run / "decision_boundary.png").exists()
    code, out, _ = run_cli(capsys, "graph", cnn_run, "--batch-size", "4")
    assert code == 0 and "Conv2d" in (cnn_run / "graph.html").read_text()


def test_predict_images_in_every_layout(cnn_run, tmp_path, capsys):
    split = datasets.load_images("digits")
    images = split.X_test.array[:6]  # (6, 1, 8, 8) raw pixels in [0, 1]
    layouts = {"nchw.npy": images, "nhw.npy": images[:, 0], "rows.npy": images.reshape(6, 64)}
    answers = []
    for name, array in layouts.items():
        np.save(tmp_path / name, array)
        code, out, _ = run_cli(capsys, "predict", cnn_run, "--input", tmp_path / name)
        assert code == 0
        answers.append(out.split())
    (tmp_path / "rows.csv").write_text("\n".join(",".join(f"{v:.7g}" for v in row) for row in images.reshape(6, 64)))
    code, out, _ = run_cli(capsys, "predict", cnn_run, "--input", tmp_path / "rows.csv")
    answers.append(out.split())
    np.save(tmp_path / "one.npy", images[0, 0])  # a single (H, W) image
    code, out, _ = run_cli(capsys, "predict", cnn_run, "--input", tmp_path / "one.npy")
    assert out.split() == answers[0][:1]
    assert all(a == answers[0] for a in answers)
    assert np.mean(np.array(answers[0], dtype=int) == split.y_test.array[:6]) >= 0.8
    np.save(tmp_path / "u8.npy", np.round(images * 255).astype(np.uint8))  # uint8 is read as 0..255
    code, out, _ = run_cli(capsys, "predict", cnn_run, "--input", tmp_path / "u8.npy", "--output", tmp_path / "p.npy")
    assert code == 0 and np.load(tmp_path / "p.npy").tolist() == [int(a) for a in answers[0]]
    np.save(tmp_path / "big.npy", np.zeros((2, 1, 28, 28)))
    assert_error(capsys, "predict", cnn_run, "--input", tmp_path / "big.npy",
                 match="inputs of 784 values but the model expects 1×8×8 images (64 pixels each)")


def test_resume_with_augmentation_continues_bit_for_bit(tmp_path, capsys):
    """Random shifts and rotations draw from lamina's global stream, which the checkpoint restores."""
    common = ["--model", "cnn", "--data", "digits", "--test-size", "0.75", "--augment", "--channels", "4", "--hidden",
              "16", "--no-progress"]
    assert main(["train", *common, "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    assert main(["train", "--resume", str(tmp_path / "a"), "--epochs", "2", "--no-progress"]) == 0
    assert main(["train", *common, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    a, b = lamina.load(tmp_path / "a" / "model.safetensors"), lamina.load(tmp_path / "b" / "model.safetensors")
    assert sorted(a) == sorted(b) and a["0.weight"].shape == (4, 1, 5, 5)
    for k in b:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["augment"] is True and config["epochs"] == 2
    capsys.readouterr()  # the runs' per-epoch lines
    assert_error(capsys, "train", "--resume", tmp_path / "a", "--model", "mlp", match="--model cannot change")
    capsys.readouterr()


def test_shapes_with_both_model_kinds(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "train", "--model", "cnn", "--data", "shapes", "--epochs", "1", "--channels", "4",
                           "--hidden", "", "--kernel-size", "3", "--out", tmp_path / "cnn", "--no-progress")
    assert code == 0 and "test accuracy" in out
    config = json.loads((tmp_path / "cnn" / "config.json").read_text())
    assert config["image_shape"] == [1, 28, 28] and config["class_names"][:2] == ["circle", "square"]
    code, out, _ = run_cli(capsys, "train", "--data", "shapes", "--epochs", "1", "--hidden", "16",
                           "--out", tmp_path / "mlp", "--no-progress")
    assert code == 0 and json.loads((tmp_path / "mlp" / "config.json").read_text())["n_features"] == 784


def test_mnist_files_as_images(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 10)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 50, (n, 28, 28))
        images[np.arange(n), labels * 2 + 4, :] = 255  # the label is the bright row
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)
    code, _, _ = run_cli(capsys, "train", "--model", "cnn", "--data", "mnist", "--root", tmp_path, "--epochs", "1",
                         "--channels", "4", "--out", tmp_path / "run", "--no-progress")
    assert code == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["image_shape"] == [1, 28, 28]


def test_bad_cnn_arguments(capsys, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b,y\n1,2,0\n3,4,1\n")
    assert_error(capsys, "train", "--model", "cnn", "--csv", table, "--target", "y",
                 match="--model cnn trains on images: use --data shapes | digits | mnist | fashion_mnist, not --csv")
    assert_error(capsys, "train", "--model", "cnn", "--data", "iris", match="not --data iris")
    assert_error(capsys, "train", "--model", "resnet", match="--model: invalid choice: 'resnet'")
    assert_error(capsys, "train", "--channels", "6,16", match="--channels is for image models (--model cnn)")
    assert_error(capsys, "train", "--data", "iris", "--augment", match="--augment is for image models")
    assert_error(capsys, "train", "--model", "cnn", "--kernel-size", "4", "--out", tmp_path / "k",
                 match="--kernel-size must be a positive odd number")
    assert_error(capsys, "train", "--model", "cnn", "--channels", "4,x", match="--channels must be comma-separated")
    assert_error(capsys, "train", "--model", "cnn", "--channels", "", match="--channels needs at least one")
    assert_error(capsys, "train", "--model", "cnn", "--channels", "2,2,2,2", "--out", tmp_path / "c",
                 match="--channels: 4 convolution blocks halve a 8×8 image to nothing; use at most 3")
    assert not (tmp_path / "c").exists() and not (tmp_path / "k").exists()  # no run folder for a failed start


def test_a_run_config_of_an_unknown_kind(cnn_run, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(cnn_run, broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model": "mamba"}))
    assert_error(capsys, "info", broken, match="unknown model kind 'mamba'")
    del config["image_shape"]
    (broken / "config.json").write_text(json.dumps(config))
    assert_error(capsys, "evaluate", broken, match="missing image_shape")
