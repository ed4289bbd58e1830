"""Data: readers for real formats, standard splits, feature encoding, batching."""

from mlpzoo.data.datasets import SplitDataset, list_datasets, load_dataset, register_dataset
from mlpzoo.data.schema import CategoricalField, FeatureSchema, NumericField, SequenceField
from mlpzoo.data.tensors import ArrayData, TensorTable

__all__ = [
    "ArrayData",
    "CategoricalField",
    "FeatureSchema",
    "NumericField",
    "SequenceField",
    "SplitDataset",
    "TensorTable",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
