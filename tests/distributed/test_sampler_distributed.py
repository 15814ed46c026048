"""DistributedSampler against PyTorch's (the same shards, padding and drop_last; the shuffled order is NumPy's)."""

import pytest
from torch.utils.data.distributed import DistributedSampler as TorchSampler

from lamina.distributed import DistributedSampler


@pytest.mark.parametrize("n,p,drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (2, 4, False),
                                           (7, 2, True), (5, 1, False)])
def test_unshuffled_shards_are_pytorchs(n, p, drop_last):
    data = list(range(n))
    for r in range(p):
        ours = DistributedSampler(data, p, r, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(data, p, r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_shuffled_shards_cover_one_permutation_per_epoch_and_every_rank_gets_as_many():
    data = list(range(10))
    shards = [list(DistributedSampler(data, 4, r, seed=3)) for r in range(4)]
    assert {len(s) for s in shards} == {3}  # 10 padded to 12
    order = [shards[r][i] for i in range(3) for r in range(4)]  # interleaved back: the padded permutation
    assert sorted(order[:10]) == data and order[10:] == order[:2]
    again = DistributedSampler(data, 4, 1, seed=3)
    assert list(again) == shards[1]  # the same seed and epoch: the same order on every rank
    again.set_epoch(1)
    assert list(again) != shards[1]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"Invalid rank 4, rank should be in the interval \[0, 3\]"):
        DistributedSampler(range(8), 4, 4)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer, got 0"):
        DistributedSampler(range(8), 0, 0)
    with pytest.raises(RuntimeError, match="pass num_replicas and rank, or call lamina.distributed.init"):
        DistributedSampler(range(8))
