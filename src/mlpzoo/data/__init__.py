"""Data: readers for real formats, standard splits, feature encoding, batching."""

from mlpzoo.data import mosaics  # noqa: F401  (registers the "mosaics" data set)
from mlpzoo.data import text as _text  # noqa: F401  (registers wordnet, emoji-captions)
from mlpzoo.data import scenes  # noqa: E402,F401  (registers the scene data sets)
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
