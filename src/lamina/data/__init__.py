"""Datasets, samplers and batching, as ``torch.utils.data`` (also importable as ``lamina.utils.data``)."""

from lamina.data import transforms
from lamina.data.dataloader import DataLoader, default_collate
from lamina.data.dataset import (
    ConcatDataset,
    Dataset,
    Subset,
    TensorDataset,
    as_features,
    as_labels,
    random_split,
)
from lamina.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from lamina.data.transforms import TransformDataset

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "ConcatDataset", "as_features", "as_labels",
           "default_collate", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "TransformDataset", "transforms"]
