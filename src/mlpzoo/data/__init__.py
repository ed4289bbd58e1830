"""Data: readers for real formats, standard splits, feature encoding, batching."""

# Importing these registers their data sets: mosaics; motorcycle-depth, photo-pan-video; wordnet, emoji-captions.
from mlpzoo.data import mosaics, scenes  # noqa: F401
from mlpzoo.data import text as _text  # noqa: F401
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
