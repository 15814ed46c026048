"""Corrupt and foreign weight files, driven through the ``lamina`` command: a flipped byte is named, never used."""

import shutil

import numpy as np
import pytest


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x04
    path.write_bytes(bytes(data))


def test_flipped_weights_are_refused_naming_file_and_tensor(xor_run, tmp_path, cli_error):
    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    flip_last_byte(run / "model.safetensors")
    line = cli_error("evaluate", run, match=f"{run / 'model.safetensors'}: corrupt file: tensor '")
    assert "fails its checksum" in line
    cli_error("predict", run, "--input", run / "config.json", match="corrupt file")


def test_flipped_checkpoint_is_refused_on_resume(xor_run, tmp_path, cli_error):
    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    flip_last_byte(run / "checkpoint.ckpt")
    before = (run / "model.safetensors").read_bytes()
    line = cli_error("train", "--resume", run, "--epochs", "40", match=f"{run / 'checkpoint.ckpt'}: corrupt file")
    assert "tensor '" in line
    assert (run / "model.safetensors").read_bytes() == before  # nothing was trained on, nothing overwritten


def test_weights_written_by_pytorch_in_bfloat16_load(xor_run, tmp_path, cli):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    import lamina

    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in lamina.load(run / "model.safetensors").items()}
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, run / "model.safetensors")  # no checksums
    code, out, err = cli("predict", run, "--input", _xor_inputs(tmp_path))
    assert code == 0, err
    assert out.split() == ["0", "1", "1", "0"]


def _xor_inputs(tmp_path):
    path = tmp_path / "xor.npy"
    np.save(path, np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64))
    return path
