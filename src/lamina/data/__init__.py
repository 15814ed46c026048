"""Datasets and batching, as ``torch.utils.data``: Dataset, TensorDataset, Subset, random_split, DataLoader."""

from lamina.data.dataloader import DataLoader, default_collate
from lamina.data.dataset import Dataset, Subset, TensorDataset, as_features, as_labels, random_split

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "as_features", "as_labels", "default_collate",
           "random_split"]
