"""Inference shared between threads (lamina.threads): with nothing recorded, a large batch of a convolution, a max
pool or a Linear layer is split into ranges of samples that run on two threads at once. Here every op is made to
split (PARALLEL_WORK and SPLIT_PRODUCT = 1, two BLAS threads) and each output is checked against the same op recorded
for backward (which never splits), against itself on one thread and on a second run, and LeNet-5 against torch.
Large inference results come from the scratch pool: one still held is never handed out again."""

import numpy as np
import pytest

import lamina
from lamina import nn, threads
from lamina.ops import conv, linalg, scratch

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)


@pytest.fixture
def shared(monkeypatch):
    """Every op splits its batch between 2 threads; returns the list of range lists that threads.run was given."""
    monkeypatch.setattr(threads, "PARALLEL_WORK", 1)
    monkeypatch.setattr(linalg, "SPLIT_PRODUCT", 1)
    monkeypatch.setattr(threads, "_blas_threads", lambda: 2)
    calls, run = [], threads.run

    def spy(fn, ranges):
        calls.append(list(ranges))
        return run(fn, ranges)

    monkeypatch.setattr(threads, "run", spy)
    return calls


def inference(layer, x):
    with lamina.no_grad():
        return layer(lamina.from_numpy(x)).numpy()


def recorded(layer, x):
    """The layer's output with its graph recorded for backward: the ops' unsplit path."""
    return layer(lamina.tensor(x, requires_grad=True)).detach().numpy()


def one_thread(layer, x, monkeypatch):
    monkeypatch.setattr(threads, "_blas_threads", lambda: 1)
    try:
        return inference(layer, x)
    finally:
        monkeypatch.setattr(threads, "_blas_threads", lambda: 2)


EXACT = [  # layers whose arithmetic per sample does not depend on the range it falls in: the same bits split
    ("direct convolution", lambda: nn.Conv2d(1, 6, 5, padding=2), (9, 1, 12, 12)),
    ("grouped direct convolution", lambda: nn.Conv2d(4, 6, 3, groups=2, padding=1), (7, 4, 6, 5)),
    ("max pool 2x2", lambda: nn.MaxPool2d(2), (9, 3, 8, 8)),
    ("max pool 3, stride 2, padding 1", lambda: nn.MaxPool2d(3, stride=2, padding=1), (5, 2, 7, 9)),
    ("max pool 1-D", lambda: nn.MaxPool1d(3), (6, 4, 13)),
    ("max pool 2x2 on odd sizes", lambda: nn.MaxPool2d(2), (3, 2, 7, 9)),
]


@pytest.mark.parametrize("name, make, shape", EXACT, ids=[case[0] for case in EXACT])
def test_a_split_gives_the_same_bits_as_the_recorded_op(shared, name, make, shape):
    layer = make()
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[::7] = 0.0  # ties and zeros
    got = inference(layer, x)
    assert [len(r) for r in shared] == [2]
    np.testing.assert_array_equal(got, recorded(layer, x))


def test_a_max_pool_split_keeps_nan_and_first_maxima(shared):
    x = np.zeros((4, 2, 6, 6), dtype=np.float32)
    x[3, 1, 0, 1] = np.nan  # in the second range: that window is NaN, every other one 0 at its first position
    got = inference(nn.MaxPool2d(2), x)
    assert np.isnan(got[3, 1, 0, 0]) and np.count_nonzero(np.isnan(got)) == 1
    ours, idx = (t.numpy() for t in lamina.nn.functional.max_pool2d(lamina.from_numpy(x), 2, return_indices=True))
    theirs, tidx = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    np.testing.assert_array_equal(idx, tidx.numpy())
    np.testing.assert_array_equal(ours, theirs.numpy())


PRODUCTS = [  # layers whose split changes the shapes of the BLAS products: equal to float32 rounding
    ("im2col convolution", lambda: nn.Conv2d(6, 16, 5), (10, 6, 14, 14)),  # 150 input values per output
    ("strided convolution", lambda: nn.Conv2d(3, 8, 3, stride=2, padding=1), (9, 3, 11, 10)),
    ("1-D convolution", lambda: nn.Conv1d(4, 5, 3, stride=2), (7, 4, 21)),
    ("grouped strided convolution", lambda: nn.Conv2d(6, 6, 3, groups=3, stride=2), (5, 6, 9, 9)),
    ("Linear", lambda: nn.Linear(30, 20), (13, 30)),
]


@pytest.mark.parametrize("name, make, shape", PRODUCTS, ids=[case[0] for case in PRODUCTS])
def test_a_split_product_matches_the_recorded_one_and_repeats_bit_for_bit(shared, monkeypatch, name, make, shape):
    layer = make()
    x = rng.standard_normal(shape).astype(np.float32)
    got = inference(layer, x)
    assert shared and all(len(r) == 2 for r in shared)
    np.testing.assert_allclose(got, recorded(layer, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, one_thread(layer, x, monkeypatch), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got, inference(layer, x))  # a seeded run repeats


def test_float64_layers_split_through_numpy(shared):
    for layer, shape in [(nn.Conv2d(2, 3, 3).double(), (5, 2, 6, 6)), (nn.ReLU(), (5, 4)),
                         (nn.MaxPool2d(2), (5, 2, 4, 4)), (nn.Linear(4, 3).double(), (6, 4))]:
        x = rng.standard_normal(shape)
        got = inference(layer, x)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, recorded(layer, x), rtol=1e-12)
    assert len(shared) == 2  # the convolution and the Linear layer; the float64 max pool takes NumPy's windows


def test_small_inference_is_not_split(monkeypatch):
    monkeypatch.setattr(threads, "_blas_threads", lambda: 2)
    calls = []
    monkeypatch.setattr(threads, "run", lambda fn, ranges: (calls.append(len(ranges)), fn(*ranges[0])))
    inference(nn.Linear(5, 3), np.ones((4, 5), dtype=np.float32))
    assert calls == []  # the product does not reach threads.run below PARALLEL_WORK
    inference(nn.Conv2d(1, 2, 3), np.ones((2, 1, 5, 5), dtype=np.float32))
    assert calls == [1]


def test_lenet_inference_split_between_threads_matches_torch(shared):
    ours = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10)).eval()
    tn = torch.nn
    theirs = tn.Sequential(tn.Conv2d(1, 6, 5, padding=2), tn.ReLU(), tn.MaxPool2d(2), tn.Conv2d(6, 16, 5), tn.ReLU(),
                           tn.MaxPool2d(2), tn.Flatten(), tn.Linear(400, 120), tn.ReLU(), tn.Linear(120, 84),
                           tn.ReLU(), tn.Linear(84, 10)).eval()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rng.random((12, 1, 28, 28), dtype=np.float32)
    got = inference(ours, x)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    assert len(shared) == 7 and all(len(r) == 2 for r in shared)  # 2 convolutions, 2 pools and 3 Linear layers
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_the_blocks_of_a_split_convolution_cover_every_sample(shared, monkeypatch):
    monkeypatch.setattr(conv, "BLOCK", 2 * 7 * 9 * 16)  # 2 samples a block: 7 samples in 4 blocks, 2 and 2 a thread
    layer = nn.Conv2d(7, 4, 3)  # 63 input values per output: im2col, not the direct loop
    x = rng.standard_normal((7, 7, 6, 6)).astype(np.float32)
    got = inference(layer, x)
    assert shared == [[(0, 2), (2, 4)]]
    np.testing.assert_allclose(got, recorded(layer, x), rtol=1e-5, atol=1e-6)


def _address(t):
    return t.numpy().__array_interface__["data"][0]


def test_inference_results_reuse_pool_buffers_only_when_free(monkeypatch):
    monkeypatch.setattr(scratch, "RESULT", 1)  # every result from the pool
    x = rng.standard_normal((4, 3, 6, 6)).astype(np.float32)
    for layer in [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 2, 3)]:
        with lamina.no_grad():
            first = layer(lamina.from_numpy(x))
            kept = first.numpy().copy()
            second = layer(lamina.from_numpy(-x))  # first is still held: a buffer of its own
            assert _address(second) != _address(first)
            np.testing.assert_array_equal(first.numpy(), kept)
            view, held = second.numpy()[1:], _address(second)
            del second
            third = layer(lamina.from_numpy(x))  # a view of second is alive: its buffer is not free
            assert _address(third) not in (_address(first), held)
            np.testing.assert_array_equal(third.numpy(), kept)
            del view
            fourth = layer(lamina.from_numpy(x))  # second's buffer is free now: handed out again
            assert _address(fourth) == held
            np.testing.assert_array_equal(fourth.numpy(), kept)
            del first, third, fourth
