import numpy as np
import pytest

import lamina
from lamina.data import Dataset, Subset, TensorDataset, as_features, as_labels, random_split


def test_tensor_dataset_indexes_rows_of_every_tensor():
    x = lamina.arange(12).reshape(6, 2)
    y = lamina.tensor([0, 1, 0, 1, 1, 0])
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8, 9] and yi.item() == 1
    assert isinstance(ds, Dataset)


def test_tensor_dataset_keeps_numpy_dtype_without_copy():
    x = np.random.default_rng(0).normal(size=(5, 3))  # float64, as the user made it
    ds = TensorDataset(lamina.from_numpy(x), x)
    assert ds.tensors[0].dtype == np.float64 and ds.tensors[1].array is x


def test_tensor_dataset_names_mismatched_sizes():
    with pytest.raises(ValueError, match=r"first dimensions \[4, 3\].*\(4, 2\), \(3,\)"):
        TensorDataset(lamina.zeros(4, 2), lamina.zeros(3))


def test_tensor_dataset_rejects_no_tensors_and_scalars():
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(lamina.tensor(1.0))


def test_subset_maps_indices_and_checks_range():
    ds = TensorDataset(lamina.arange(10))
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert [sub[i][0].item() for i in range(3)] == [7, 2, 5]
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        Subset(ds, [3, 10])


class Squares:  # a plain object following the Dataset protocol
    def __getitem__(self, i):
        return i * i

    def __len__(self):
        return 10


def test_any_object_with_getitem_and_len_is_a_dataset():
    assert isinstance(Squares(), Dataset)
    assert not isinstance(object(), Dataset)


def test_random_split_by_counts_is_a_seeded_partition():
    parts = random_split(Squares(), [7, 3], generator=lamina.Generator().manual_seed(3))
    again = random_split(Squares(), [7, 3], generator=lamina.Generator().manual_seed(3))
    assert [len(p) for p in parts] == [7, 3]
    assert sorted(np.concatenate([p.indices for p in parts]).tolist()) == list(range(10))
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again))
    expected = np.random.default_rng(3).permutation(10)
    assert parts[0].indices.tolist() == expected[:7].tolist()
    assert parts[1][0] == expected[7] ** 2


def test_random_split_uses_global_seed():
    lamina.manual_seed(11)
    a = random_split(Squares(), [5, 5])
    lamina.manual_seed(11)
    b = random_split(Squares(), [5, 5])
    assert a[0].indices.tolist() == b[0].indices.tolist()


def test_random_split_fractions_deal_the_remainder_like_torch():
    torch = pytest.importorskip("torch")
    for n, fractions in [(10, [0.8, 0.2]), (11, [0.5, 0.3, 0.2]), (7, [1 / 3, 1 / 3, 1 / 3])]:
        ours = [len(p) for p in random_split(list(range(n)), fractions)]
        theirs = [len(p) for p in torch.utils.data.random_split(list(range(n)), fractions)]
        assert ours == theirs


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match=r"sum to 9, but the dataset has 10"):
        random_split(Squares(), [6, 3])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(Squares(), [11, -1])
    with pytest.raises(ValueError, match="fractions summing to 1"):
        random_split(Squares(), [0.5, 0.3])


def test_as_features_and_as_labels_convert_dtypes():
    x = as_features(np.arange(6, dtype=np.float64).reshape(3, 2))
    assert x.dtype == np.float32 and x.tolist() == [[0, 1], [2, 3], [4, 5]]
    same = np.zeros((2, 2), np.float32)
    assert as_features(same).array is same
    y = as_labels(np.array([[0.0], [1.0], [2.0]]))
    assert y.dtype == np.int64 and y.tolist() == [[0], [1], [2]]
    assert as_labels([1, 0]).dtype == np.int64


def test_as_features_and_as_labels_reject_bad_input():
    with pytest.raises(TypeError, match="features must be numeric"):
        as_features(np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"whole numbers.*0\.5"):
        as_labels(np.array([0.0, 0.5]))
    with pytest.raises(TypeError, match="class labels must be integers"):
        as_labels(np.array(["cat", "dog"]))
