from collections import namedtuple

import numpy as np
import pytest

import lamina
from lamina.data import DataLoader, Subset, TensorDataset, default_collate, random_split


def make_data(n=10):
    x = lamina.arange(n * 2, dtype=lamina.float32).reshape(n, 2)
    y = lamina.arange(n)
    return TensorDataset(x, y)


def labels(loader):
    return [batch[1].tolist() for batch in loader]


def test_batches_in_order_with_partial_last_batch():
    loader = DataLoader(make_data(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = batches[2]
    assert isinstance(x, lamina.Tensor) and x.shape == (2, 2) and x.dtype == np.float32
    assert x.tolist() == [[16, 17], [18, 19]] and y.dtype == np.int64


def test_drop_last_drops_the_partial_batch():
    loader = DataLoader(make_data(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(make_data(8), batch_size=4, drop_last=True)) == 2
    assert list(DataLoader(make_data(3), batch_size=4, drop_last=True)) == []


def test_len_matches_torch():
    torch = pytest.importorskip("torch")
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, False), (1, 5, False), (0, 2, False)]:
        ours = DataLoader(list(range(n)), batch_size=bs, drop_last=drop)
        theirs = torch.utils.data.DataLoader(list(range(n)), batch_size=bs, drop_last=drop)
        assert len(ours) == len(theirs) == len(list(ours))


def test_shuffle_is_reproducible_under_manual_seed_and_covers_every_sample():
    loader = DataLoader(make_data(10), batch_size=3, shuffle=True)
    lamina.manual_seed(0)
    first, second = labels(loader), labels(loader)
    lamina.manual_seed(0)
    assert labels(loader) == first and labels(loader) == second
    assert first != second  # a fresh order every epoch
    assert sorted(sum(first, [])) == list(range(10))
    lamina.manual_seed(0)
    assert sum(first, []) == np.random.default_rng(0).permutation(10).tolist()


def test_shuffle_with_a_generator_ignores_the_global_stream():
    def run(seed):
        loader = DataLoader(make_data(10), batch_size=4, shuffle=True, generator=lamina.Generator().manual_seed(seed))
        lamina.manual_seed(seed + 100)  # a different global stream for each call: must not matter
        return labels(loader)

    assert run(5) == run(5)
    assert run(5) != run(6)
    lamina.manual_seed(1)
    before = lamina.get_rng_state()
    labels(DataLoader(make_data(10), shuffle=True, generator=lamina.Generator().manual_seed(1)))
    assert lamina.get_rng_state() == before


def test_subset_of_tensor_dataset_uses_fast_path_and_matches_sample_path():
    ds = make_data(20)
    lamina.manual_seed(3)
    train, _ = random_split(ds, [15, 5])
    nested = Subset(train, [14, 0, 3, 7])
    fast = [[t.tolist() for t in b] for b in DataLoader(nested, batch_size=3)]
    slow = [[t.tolist() for t in b] for b in DataLoader(nested, batch_size=3, collate_fn=default_collate)]
    assert fast == slow
    assert fast[0][1] == [train.indices[14], train.indices[0], train.indices[3]]


def test_fast_path_does_one_fancy_index_per_tensor_per_batch(monkeypatch):
    ds = make_data(10)
    calls = []
    original = lamina.Tensor.__getitem__

    def counting(self, index):
        calls.append(np.shape(index))
        return original(self, index)

    monkeypatch.setattr(lamina.Tensor, "__getitem__", counting)
    list(DataLoader(ds, batch_size=4))
    assert calls == [(4,), (4,), (4,), (4,), (2,), (2,)]


def test_overridden_getitem_is_respected():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    (x, y), *_ = DataLoader(Doubled(lamina.ones(3, 2), lamina.arange(3)), batch_size=3)
    assert x.tolist() == [[2, 2]] * 3


def test_generic_dataset_is_collated_per_sample():
    class Pairs:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(3, i, dtype=np.float32), "y": i, "w": 0.5 * i, "name": f"s{i}"}

    batches = list(DataLoader(Pairs(), batch_size=2))
    assert len(batches) == 3
    b = batches[1]
    assert b["x"].shape == (2, 3) and b["x"].dtype == np.float32 and b["x"].array[:, 0].tolist() == [2, 3]
    assert b["y"].dtype == np.int64 and b["y"].tolist() == [2, 3]
    assert b["w"].dtype == np.float32 and b["w"].tolist() == [1.0, 1.5]
    assert b["name"] == ["s2", "s3"]


def test_default_collate_structures_match_torch():
    torch = pytest.importorskip("torch")
    Point = namedtuple("Point", "x y")
    samples = [(np.array([i, i + 1]), i, True) for i in range(3)]
    ours, theirs = default_collate(samples), torch.utils.data.default_collate(samples)
    assert isinstance(ours, list) and isinstance(theirs, list)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.array, b.numpy())
    points = default_collate([Point(lamina.tensor([1.0]), 2), Point(lamina.tensor([3.0]), 4)])
    assert isinstance(points, Point) and points.x.tolist() == [[1.0], [3.0]] and points.y.tolist() == [2, 4]


def test_default_collate_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        default_collate([object(), object()])


def test_collate_fn_is_used():
    loader = DataLoader(list(range(5)), batch_size=2, collate_fn=lambda samples: sum(samples))
    assert list(loader) == [1, 5, 4]


def test_bad_loader_arguments():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader(make_data(), batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(make_data(), batch_size=2.5)
    with pytest.raises(TypeError, match="__getitem__ and __len__"):
        DataLoader(iter(range(3)))


def test_mnist_shaped_loader_yields_full_epoch():
    x = np.zeros((60000, 28, 28), dtype=np.uint8)
    y = np.arange(60000) % 10
    lamina.manual_seed(0)
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
    seen = np.concatenate([yb.array for _, yb in loader])
    assert len(loader) == 469 and seen.shape == (60000,) and np.bincount(seen).tolist() == [6000] * 10


def test_pytorch_loader_options_are_accepted_and_change_nothing():
    import lamina
    from lamina.data import DataLoader, TensorDataset

    ds = TensorDataset(lamina.arange(10).float(), lamina.arange(10))
    plain = [b[1].tolist() for b in DataLoader(ds, batch_size=4)]
    ported = [b[1].tolist() for b in DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True)]
    assert plain == ported == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
