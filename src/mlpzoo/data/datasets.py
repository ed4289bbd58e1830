"""Named data sets with their standard splits (see the project's data README).

- ``frappe``: the NFM libfm encoding; validation + test parts in that order (86,582 rows),
  permuted with ``numpy.random.default_rng(2023)``, split 70/20/10.
- ``movielens-100k-ctr``: ratings >= 4 are clicks; user and item side features; same permutation
  rule over the 100,000 ratings in file order, 70/20/10.
- ``movielens-100k-din``: every rating is an impression of a movie, ordered by time; its
  behaviour history is the user's previously rated movies (most recent 50) with their genres;
  label rating >= 4; chronological split 70/20/10 so the model never sees the future.

Vocabularies and statistics are always fitted on the training split only.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlpzoo.data.paths import require_file
from mlpzoo.data.readers import read_atomic, read_libfm_frame
from mlpzoo.data.schema import CategoricalField, FeatureSchema, SequenceField
from mlpzoo.data.tensors import TensorTable
from mlpzoo.errors import ConfigError

FRAPPE_FIELDS = ["user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city"]
SPLIT_SEED = 2023


@dataclass
class SplitDataset:
    """A data set encoded for training: the fitted schema and the train/valid/test tables."""

    name: str
    schema: FeatureSchema
    train: TensorTable
    valid: TensorTable
    test: TensorTable
    info: dict = field(default_factory=dict)


def standard_split(
    num_rows: int, seed: int = SPLIT_SEED, fractions=(0.7, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The project's standard random split: first 70 % train, next 20 % valid, rest test."""
    order = np.random.default_rng(seed).permutation(num_rows)
    n_train = int(num_rows * fractions[0])
    n_valid = int(num_rows * fractions[1])
    return order[:n_train], order[n_train : n_train + n_valid], order[n_train + n_valid :]


def encode_splits(
    name: str, schema: FeatureSchema, frame: pd.DataFrame, splits, info: dict | None = None
) -> SplitDataset:
    train_idx, valid_idx, test_idx = splits
    fitted = schema.fit(frame.iloc[train_idx])
    tables = [
        fitted.encode(frame.iloc[idx], where=f"{name} {part}") for idx, part in zip(splits, ("train", "valid", "test"))
    ]
    return SplitDataset(name, fitted, *tables, info=info or {})


def load_frappe(data_dir=None) -> SplitDataset:
    paths = [require_file("frappe", f, data_dir) for f in ("frappe.validation.libfm", "frappe.test.libfm")]
    frame = read_libfm_frame(paths, FRAPPE_FIELDS)
    schema = FeatureSchema(
        categorical=[
            CategoricalField(n, source="user" if n == "user" else "item" if n == "item" else "context")
            for n in FRAPPE_FIELDS
        ]
    )
    return encode_splits(
        "frappe", schema, frame, standard_split(len(frame)), {"rows": len(frame), "files": [str(p) for p in paths]}
    )


def _movielens_frames(data_dir=None) -> pd.DataFrame:
    inter = read_atomic(require_file("movielens-100k", "ml-100k.inter", data_dir))
    users = read_atomic(require_file("movielens-100k", "ml-100k.user", data_dir))
    items = read_atomic(require_file("movielens-100k", "ml-100k.item", data_dir))
    items = items.assign(genre=items["class"].fillna("").str.split(" ").str[0].replace("", "unknown"))
    frame = inter.merge(users, on="user_id", how="left").merge(
        items[["item_id", "release_year", "genre"]], on="item_id", how="left"
    )
    frame["label"] = (frame["rating"] >= 4).astype(np.float32)
    return frame


def load_movielens_ctr(data_dir=None) -> SplitDataset:
    frame = _movielens_frames(data_dir)
    user = ["user_id", "age", "gender", "occupation", "zip_code"]
    item = ["item_id", "release_year", "genre"]
    schema = FeatureSchema(
        categorical=[CategoricalField(n, source="user") for n in user]
        + [CategoricalField(n, source="item") for n in item]
    )
    return encode_splits("movielens-100k-ctr", schema, frame, standard_split(len(frame)), {"rows": len(frame)})


def load_movielens_din(data_dir=None, max_len: int = 50) -> SplitDataset:
    frame = _movielens_frames(data_dir).rename(columns={"genre": "cate_id"})
    frame["order"] = np.arange(len(frame))
    # Chronological order (ties by file order) defines both the split and each user's history.
    frame = frame.sort_values(["timestamp", "order"], kind="stable").reset_index(drop=True)
    n = len(frame)
    n_train, n_valid = int(n * 0.7), int(n * 0.2)
    splits = (np.arange(n_train), np.arange(n_train, n_train + n_valid), np.arange(n_train + n_valid, n))
    schema = FeatureSchema(
        categorical=[CategoricalField(c, source="user") for c in ("user_id", "age", "gender", "occupation")]
        + [CategoricalField("item_id", source="item"), CategoricalField("cate_id", source="item")],
        sequence=[
            SequenceField("hist_item", shares="item_id", max_len=max_len),
            SequenceField("hist_cate", shares="cate_id", max_len=max_len),
        ],
        group="user_id",
    )
    fitted = schema.fit(frame.iloc[splits[0]])
    histories = {
        "hist_item": _history(
            frame, fitted.categorical[fitted.categorical_index("item_id")].encode(frame["item_id"]), max_len
        ),
        "hist_cate": _history(
            frame, fitted.categorical[fitted.categorical_index("cate_id")].encode(frame["cate_id"]), max_len
        ),
    }
    tables = [
        fitted.encode(frame.iloc[idx], f"movielens-100k-din {part}", {k: v[idx] for k, v in histories.items()})
        for idx, part in zip(splits, ("train", "valid", "test"))
    ]
    return SplitDataset("movielens-100k-din", fitted, *tables, info={"rows": n, "max_len": max_len})


def _history(frame: pd.DataFrame, codes: np.ndarray, max_len: int) -> np.ndarray:
    """``(N, max_len)`` ids of each event's previous events by the same user, oldest first, padded in front."""
    by_user = np.lexsort((np.arange(len(frame)), frame["user_id"].to_numpy()))  # time order within user kept
    users = frame["user_id"].to_numpy()[by_user]
    start = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    first = np.repeat(start, np.diff(np.r_[start, len(users)]))
    position = np.arange(len(users))
    window = position[:, None] - max_len + np.arange(max_len)[None, :]
    valid = window >= first[:, None]
    history_sorted = np.where(valid, codes[by_user][np.clip(window, 0, None)], 0)
    out = np.empty_like(history_sorted)
    out[by_user] = history_sorted
    return out


@dataclass(frozen=True)
class DatasetEntry:
    """One named data set: how to load it and what it returns."""

    name: str
    loader: Callable[..., Any]  # loader(data_dir, **kwargs)
    returns: str
    description: str


_DATASETS: dict[str, DatasetEntry] = {}


def register_dataset(name: str, returns: str, description: str):
    """Decorator: make ``loader(data_dir, **kwargs)`` reachable as ``load_dataset(name, data_dir=..., **kwargs)``."""

    def decorate(loader):
        if name in _DATASETS:
            raise ValueError(f"data set {name!r} is registered twice")
        _DATASETS[name] = DatasetEntry(name, loader, returns, description)
        return loader

    return decorate


def list_datasets() -> list[str]:
    return sorted(_DATASETS)


def dataset_entry(name: str) -> DatasetEntry:
    if name not in _DATASETS:
        close = difflib.get_close_matches(name, list(_DATASETS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ConfigError(f"unknown data set {name!r}; {hint}choose one of {', '.join(list_datasets())}")
    return _DATASETS[name]


def load_dataset(name: str, data_dir=None, **kwargs):
    """Load a named data set (``list_datasets()``) from ``data_dir`` (else ``$MLPZOO_DATA``, else the cache).

    Tabular CTR sets return a :class:`SplitDataset` (standard split, schema fitted on train); the
    others return their loader's type (``dataset_entry(name).returns`` says which) and take its
    keyword arguments, e.g. ``load_dataset("cifar10", split="test")``.
    """
    return dataset_entry(name).loader(data_dir, **kwargs)


register_dataset("frappe", "SplitDataset", "Frappe app-usage CTR (public validation+test parts), 70/20/10")(load_frappe)
register_dataset("movielens-100k-ctr", "SplitDataset", "MovieLens-100k ratings >= 4 as clicks, 70/20/10")(
    load_movielens_ctr
)
register_dataset("movielens-100k-din", "SplitDataset", "MovieLens-100k with time-ordered user histories")(
    load_movielens_din
)


def _lazy(module: str, function: str, **fixed):
    """A loader(data_dir, **kwargs) that imports its module on first use (start-up stays light)."""

    def load(data_dir=None, **kwargs):
        return getattr(importlib.import_module(module), function)(data_dir=data_dir, **fixed, **kwargs)

    return load


for _graph in ("cora", "citeseer"):
    register_dataset(_graph, "Graph", f"{_graph.capitalize()} with the Planetoid public split")(
        _lazy("mlpzoo.data.planetoid", "load_planetoid", name=_graph)
    )
for _series in ("ETTh1", "ETTh2"):
    register_dataset(_series.lower(), "pandas.DataFrame", f"{_series} electricity transformer temperature, hourly")(
        _lazy("mlpzoo.data.ett", "load_ett", name=_series)
    )
register_dataset(
    "cifar10", "(images uint8 (N,3,32,32), labels) for split='train'|'test'", "CIFAR-10 from the JPEG zip"
)(_lazy("mlpzoo.data.images", "load_cifar10"))
register_dataset("can", "CanData", "DAGA CAN-bus traces, each split by time")(_lazy("mlpzoo.data.can", "load_can"))
register_dataset("mpea", "MPEATable", "MPEA high-entropy alloys (target='phase'|'yield_strength')")(
    _lazy("mlpzoo.data.mpea", "load_mpea")
)
register_dataset(
    "dual-exposures",
    "DualExposures (long/short raw frames, illuminant) for count=, seed=",
    "Long and short exposures rendered from CIFAR-10 photographs under known Planckian illuminants",
)(_lazy("mlpzoo.data.photos", "load_dual_exposures"))
register_dataset(
    "distorted-photos",
    "DistortedPhotos (versions, source, grades, SSIM quality, scene-relative score) for count=, seed=",
    "CIFAR-10 photographs at graded blur, noise, JPEG and exposure levels",
)(_lazy("mlpzoo.data.photos", "load_distorted_photos"))
register_dataset(
    "mosaics",
    "MosaicSet (images uint8 (N,C,2t,2t), targets float (N,10)) for split='train'|'valid'|'test'",
    "2x2 multi-label mosaics of real Fashion-MNIST or CIFAR-10 images (a stand-in for Chest X-ray14)",
)(_lazy("mlpzoo.data.mosaics", "load_mosaics"))
register_dataset(
    "motorcycle-depth", "DepthPhoto", "Middlebury Motorcycle photo + ground-truth depth (scikit-image's sample)"
)(_lazy("mlpzoo.data.scenes", "load_motorcycle_depth"))
register_dataset("photo-pan-video", "ndarray (T, H, W, 3)", "a virtual camera pan over a real scikit-image photo")(
    _lazy("mlpzoo.data.scenes", "load_photo_video")
)
register_dataset("wordnet", "tuple[Synset, ...] for pos=('noun', ...)", "WordNet 3.0 synsets (Debian wordnet-base)")(
    _lazy("mlpzoo.data.text", "load_wordnet")
)
register_dataset(
    "emoji-captions", "(images uint8 (N,3,32,32), captions list[str])", "Noto Color Emoji rendered, Unicode names"
)(_lazy("mlpzoo.data.text", "load_emoji_captions"))


def _fashion_mnist(data_dir=None, split: str = "train"):
    from mlpzoo.data.images import load_fashion_mnist

    # The Debian package's folder is the default; a data directory holding fashion-mnist/ wins.
    folder = None if data_dir is None else Path(data_dir) / "fashion-mnist"
    return load_fashion_mnist(split, folder if folder is not None and folder.is_dir() else None)


register_dataset(
    "fashion-mnist",
    "(images uint8 (N,1,28,28), labels) for split='train'|'test'",
    "Fashion-MNIST (Debian package dataset-fashion-mnist)",
)(_fashion_mnist)


def _series_loader(data_dir=None, series: str = "nile_yearly", **kwargs):
    from mlpzoo.data.series import load_series

    return load_series(series, data_dir, **kwargs)


register_dataset("series", "pandas.Series for series='co2_weekly'|'nile_yearly'|...", "statsmodels' bundled series")(
    _series_loader
)


def load_files(
    train: str, valid: str, schema: FeatureSchema | dict, test: str | None = None, name: str = "files"
) -> SplitDataset:
    """Your own CSV/parquet files: fit ``schema`` on ``train``, encode all three."""
    from mlpzoo.data.readers import read_table

    schema = FeatureSchema.from_dict(schema) if isinstance(schema, dict) else schema
    wanted = schema.columns + [schema.label] + ([schema.group] if schema.group else [])
    frames = {
        part: read_table(path, columns=wanted)
        for part, path in (("train", train), ("valid", valid), ("test", test))
        if path
    }
    fitted = schema.fit(frames["train"])
    tables = {
        part: fitted.encode(frame, where=f"{path_of} ({part})")
        for (part, frame), path_of in zip(frames.items(), (train, valid, test))
    }
    empty = tables["valid"].select(slice(0, 0))
    return SplitDataset(
        name, fitted, tables["train"], tables["valid"], tables.get("test", empty), info={"files": [train, valid, test]}
    )


def _digits(data_dir=None):
    from mlpzoo.data.images import load_digits_images

    return load_digits_images()  # ships with scikit-learn; no data directory needed


register_dataset("digits", "(images float (N,1,8,8), labels)", "scikit-learn's 8x8 digits")(_digits)
