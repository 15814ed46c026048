"""Device calls that PyTorch scripts make, on a CPU-only library: 'cpu' works everywhere, anything else says why."""

import pytest

import lamina
from lamina import nn


def test_cpu_is_accepted_everywhere():
    dev = lamina.device("cpu")
    assert dev == "cpu" and lamina.device(dev) == dev and str(dev) == "cpu" and repr(dev) == "device(type='cpu')"
    for make in (lambda: lamina.zeros(2, device=dev), lambda: lamina.ones(2, device="cpu"),
                 lambda: lamina.tensor([1.0], device="cpu"), lambda: lamina.randn(2, device="cpu"),
                 lambda: lamina.arange(3, device="cpu"), lambda: lamina.full((2,), 1.0, device="cpu:0")):
        assert make().device == "cpu"
    x = lamina.ones(2)
    assert x.to("cpu") is x and x.to(dev) is x and x.cpu() is x and not x.is_cuda
    assert x.to("cpu", lamina.float64).dtype == lamina.float64
    assert x.to(device="cpu", dtype=lamina.float16).dtype == lamina.float16
    assert x.to(lamina.ones(1, dtype=lamina.float64)).dtype == lamina.float64
    assert x.to("cpu", copy=True) is not x
    model = nn.Linear(2, 2).to(dev)
    assert model.to("cpu", dtype=lamina.float64).weight.dtype == lamina.float64


def test_gpus_are_refused_with_a_clear_error():
    for call in (lambda: lamina.device("cuda"), lambda: lamina.zeros(2, device="cuda"),
                 lambda: lamina.ones(2).to("cuda:0"), lambda: lamina.ones(2).cuda(), lambda: nn.Linear(1, 1).cuda(),
                 lambda: nn.Linear(1, 1).to("mps")):
        with pytest.raises(RuntimeError, match="lamina runs on the CPU only"):
            call()


def test_the_usual_device_selection_idiom_picks_the_cpu():
    device = "cuda" if lamina.cuda.is_available() else "mps" if lamina.backends.mps.is_available() else "cpu"
    assert device == "cpu" and lamina.cuda.device_count() == 0
    lamina.cuda.manual_seed_all(0)
    lamina.backends.cudnn.deterministic = True
    lamina.backends.cudnn.benchmark = False


def test_dtype_aliases_are_pytorchs():
    assert lamina.int == lamina.int32 and lamina.long == lamina.int64 and lamina.short == lamina.int16
    assert lamina.float == lamina.float32 and lamina.double == lamina.float64 and lamina.half == lamina.float16
    assert lamina.tensor([1, 2], dtype=lamina.uint8).dtype == lamina.uint8
    assert lamina.tensor([1], dtype=lamina.int8).dtype == lamina.int8


def test_randint_takes_pytorchs_forms_and_generators_repeat():
    assert lamina.randint(10, (3,)).shape == (3,) and lamina.randint(2, 5, (2, 2)).shape == (2, 2)
    values = lamina.randint(2, 5, (1000,))
    assert values.min().item() >= 2 and values.max().item() <= 4 and values.dtype == lamina.int64
    draws = [lamina.randn(3, generator=lamina.Generator().manual_seed(7)).tolist() for _ in range(2)]
    assert draws[0] == draws[1]
    assert lamina.randperm(5, generator=lamina.Generator().manual_seed(1)).tolist() == \
        lamina.randperm(5, generator=lamina.Generator().manual_seed(1)).tolist()
