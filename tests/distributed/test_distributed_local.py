"""lamina.distributed in one process, without mpiexec: mpi4py stays unloaded until init, the install hint,
SyncBatchNorm's conversion and its single-process behaviour (BatchNorm's, checked against PyTorch)."""

import subprocess
import sys

import numpy as np
import torch

import lamina
from lamina import nn
from lamina.distributed import SyncBatchNorm, convert_sync_batchnorm


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_importing_lamina_and_its_distributed_package_does_not_load_mpi4py():
    out = _python("import sys, lamina, lamina.distributed, lamina.training; print('mpi4py' in sys.modules)")
    assert out.stdout.strip() == "False", out.stderr


def test_without_mpi4py_init_says_how_to_install_it():
    out = _python("import sys; sys.modules['mpi4py'] = None\n"
                  "import lamina.distributed as d\n"
                  "try:\n    d.init()\nexcept ImportError as e:\n    print(e)")
    assert "pip install 'lamina[mpi]'" in out.stdout and "mpiexec -n 4" in out.stdout, out.stderr


def test_convert_sync_batchnorm_keeps_parameters_buffers_and_mode():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Sequential(nn.BatchNorm1d(6)))
    model[1].running_mean.array[...] = 0.5
    model.eval()
    converted = convert_sync_batchnorm(model)
    assert type(converted[1]) is SyncBatchNorm and type(converted[3][0]) is SyncBatchNorm
    assert converted[1].weight is model[1].weight and converted[1].running_mean is model[1].running_mean
    assert not converted[1].training
    assert list(dict(converted.state_dict())) == list(dict(model.state_dict()))


def test_sync_batchnorm_in_one_process_is_pytorchs_batchnorm():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 5)).astype(np.float32)
    ours, theirs = SyncBatchNorm(3), torch.nn.SyncBatchNorm(3)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.batch_norm(xt, theirs.running_mean, theirs.running_var, theirs.weight, theirs.bias, True,
                                   0.1, 1e-5).pow(2).sum().backward()  # SyncBatchNorm's own forward needs a GPU
    xl = lamina.tensor(x, requires_grad=True)
    ours(xl).pow(2).sum().backward()
    np.testing.assert_allclose(xl.grad.array, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.running_var.array, theirs.running_var.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight.grad.array, theirs.weight.grad.numpy(), rtol=1e-4)
