"""Samplers, ConcatDataset and DataLoader's sampler/batch_sampler, as torch.utils.data; the lamina.utils.data path."""

import numpy as np
import pytest

import lamina
from lamina.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

torch = pytest.importorskip("torch")
tud = torch.utils.data


def test_sequential_and_batch_samplers_match_torch():
    data = list(range(10))
    assert list(SequentialSampler(data)) == list(tud.SequentialSampler(data))
    for drop_last in (False, True):
        ours = list(BatchSampler(SequentialSampler(data), 3, drop_last))
        theirs = list(tud.BatchSampler(tud.SequentialSampler(data), 3, drop_last))
        assert ours == theirs and len(BatchSampler(SequentialSampler(data), 3, drop_last)) == len(theirs)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(SequentialSampler(data), 0, False)


def test_random_sampler_permutes_draws_with_replacement_and_is_seeded():
    data = list(range(20))
    order = list(RandomSampler(data, generator=lamina.Generator().manual_seed(3)))
    assert sorted(order) == data and order != data
    assert order == list(RandomSampler(data, generator=lamina.Generator().manual_seed(3)))
    long = list(RandomSampler(data, num_samples=45, generator=lamina.Generator().manual_seed(1)))
    assert len(long) == 45 and sorted(long[:20]) == data and sorted(long[20:40]) == data  # whole permutations first
    drawn = list(RandomSampler(data, replacement=True, num_samples=500, generator=lamina.Generator().manual_seed(0)))
    assert len(drawn) == 500 and min(drawn) >= 0 and max(drawn) < 20 and len(set(drawn)) < 20 + 1
    assert len(RandomSampler(data, replacement=True, num_samples=7)) == len(tud.RandomSampler(data, True, 7)) == 7


def test_subset_random_and_weighted_samplers():
    order = list(SubsetRandomSampler([5, 7, 9, 11]))
    assert sorted(order) == [5, 7, 9, 11]
    g = lamina.Generator().manual_seed(0)
    draws = np.array(list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=g)))
    assert 0 not in draws and abs((draws == 2).mean() - 0.75) < 0.03
    unique = list(WeightedRandomSampler([1.0, 1.0, 5.0, 0.0], 3, replacement=False))
    assert sorted(unique) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    with pytest.raises(ValueError, match="weights"):
        WeightedRandomSampler([-1.0, 2.0], 2)


def test_dataloader_takes_a_sampler_or_a_batch_sampler():
    x = lamina.arange(10)
    ds = TensorDataset(x)
    batches = [b[0].tolist() for b in DataLoader(ds, batch_size=4, sampler=SubsetRandomSampler([1, 3, 5]))]
    assert len(batches) == 1 and sorted(batches[0]) == [1, 3, 5]
    bs = BatchSampler(SequentialSampler(ds), 3, drop_last=True)
    loader = DataLoader(ds, batch_sampler=bs)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and len(loader) == 3
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=bs)
    loader = DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True, persistent_workers=False,
                        prefetch_factor=None, worker_init_fn=None)
    assert [len(b[0]) for b in loader] == [4, 4, 2]


def test_shuffling_draws_as_before_so_seeded_runs_stay_bit_identical():
    lamina.manual_seed(5)
    first = [b[0].tolist() for b in DataLoader(TensorDataset(lamina.arange(10)), batch_size=10, shuffle=True)]
    lamina.manual_seed(5)
    again = np.random.default_rng(5).permutation(10).tolist()
    assert first == [again]


def test_concat_dataset():
    a, b = TensorDataset(lamina.arange(3)), TensorDataset(lamina.arange(10, 15))
    both = ConcatDataset([a, b])
    theirs = tud.ConcatDataset([tud.TensorDataset(torch.arange(3)), tud.TensorDataset(torch.arange(10, 15))])
    assert len(both) == len(theirs) == 8 and both.cumulative_sizes == theirs.cumulative_sizes
    assert [both[i][0].item() for i in range(-8, 8)] == [theirs[i][0].item() for i in range(-8, 8)]
    with pytest.raises(IndexError):
        both[8]
