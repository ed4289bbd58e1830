"""The named data sets and their standard splits, checked against the raw files."""

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
import torch

from mlpzoo.data import load_dataset
from mlpzoo.data.datasets import FRAPPE_FIELDS, standard_split
from mlpzoo.data.readers import read_atomic, read_libfm_frame
from mlpzoo.errors import ConfigError


@lru_cache(maxsize=None)
def _load(name, root):
    return load_dataset(name, data_dir=root)


def test_standard_split_is_documented_permutation():
    train, valid, test = standard_split(1000)
    order = np.random.default_rng(2023).permutation(1000)
    assert np.array_equal(np.concatenate([train, valid, test]), order)
    assert (len(train), len(valid), len(test)) == (700, 200, 100)


def test_unknown_dataset():
    with pytest.raises(ConfigError) as info:
        load_dataset("frappe2")
    assert "frappe" in str(info.value) and "\n" not in str(info.value)


def test_frappe_split(need_data):
    root = need_data("frappe")
    ds = _load("frappe", root)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (60607, 17316, 8659)
    assert [f.name for f in ds.schema.categorical] == FRAPPE_FIELDS
    assert ds.schema.fields_from("user") == ["user"] and ds.schema.fields_from("item") == ["item"]
    frame = read_libfm_frame(
        [root / "frappe" / "frappe.validation.libfm", root / "frappe" / "frappe.test.libfm"], FRAPPE_FIELDS
    )
    assert len(frame) == 86582
    order = np.random.default_rng(2023).permutation(86582)
    parts = (order[:60607], order[60607 : 60607 + 17316], order[60607 + 17316 :])
    for table, idx in zip((ds.train, ds.valid, ds.test), parts):
        expected = ds.schema.encode(frame.iloc[idx])
        assert torch.equal(table.categorical, expected.categorical)
        assert torch.equal(table.label, expected.label)
    # vocabularies come from the training rows only
    train_users = set(frame.iloc[parts[0]]["user"].astype(str))
    assert set(ds.schema.categorical[0].vocab) == train_users
    assert set(np.unique(ds.train.label.numpy())) == {0.0, 1.0}
    assert (ds.train.categorical >= 2).all()  # no OOV in the training split


def test_movielens_ctr_split(need_data):
    root = need_data("movielens-100k")
    ds = _load("movielens-100k-ctr", root)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (70000, 20000, 10000)
    for table in (ds.train, ds.valid, ds.test):
        assert 0.5 < table.label.mean().item() < 0.6
    inter = read_atomic(root / "movielens-100k" / "ml-100k.inter")
    order = np.random.default_rng(2023).permutation(100000)
    label = (inter["rating"].to_numpy()[order[:70000]] >= 4).astype(np.float32)
    assert np.array_equal(ds.train.label.numpy(), label)
    user_field = ds.schema.categorical[ds.schema.categorical_index("user_id")]
    assert torch.equal(
        ds.test.categorical[:, 0], torch.from_numpy(user_field.encode(inter["user_id"].iloc[order[90000:]]))
    )


@pytest.fixture
def din(need_data):
    root = need_data("movielens-100k")
    ds = _load("movielens-100k-din", root)
    inter = read_atomic(root / "movielens-100k" / "ml-100k.inter")
    inter["order"] = np.arange(len(inter))
    ordered = inter.sort_values(["timestamp", "order"], kind="stable").reset_index(drop=True)
    return ds, ordered


def test_movielens_din_is_chronological(din):
    ds, ordered = din
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (70000, 20000, 10000)
    ts = ordered["timestamp"].to_numpy()
    assert ts[:70000].max() <= ts[70000:90000].min()
    assert ts[70000:90000].max() <= ts[90000:].min()
    # the tables are in that order: user ids and labels line up with the sorted raw frame
    user_field = ds.schema.categorical[ds.schema.categorical_index("user_id")]
    codes = torch.from_numpy(user_field.encode(ordered["user_id"]))
    all_users = torch.cat([ds.train.categorical[:, 0], ds.valid.categorical[:, 0], ds.test.categorical[:, 0]])
    assert torch.equal(all_users, codes)
    labels = torch.cat([ds.train.label, ds.valid.label, ds.test.label]).numpy()
    assert np.array_equal(labels, (ordered["rating"].to_numpy() >= 4).astype(np.float32))
    # the vocabulary is fitted on training rows only: items first rated later are out of vocabulary
    train_items = set(ordered["item_id"].iloc[:70000])
    item_vocab = ds.schema.categorical[ds.schema.categorical_index("item_id")].vocab
    assert set(item_vocab) == train_items
    assert ds.schema.group == "user_id" and ds.test.group is not None


def test_movielens_din_histories_brute_force(din):
    ds, ordered = din
    item_field = ds.schema.categorical[ds.schema.categorical_index("item_id")]
    hist = torch.cat(
        [ds.train.sequences["hist_item"], ds.valid.sequences["hist_item"], ds.test.sequences["hist_item"]]
    ).numpy()
    assert hist.shape == (100000, 50)
    users = ordered["user_id"].to_numpy()
    items = ordered["item_id"].to_numpy()
    ts = ordered["timestamp"].to_numpy()
    rng = np.random.default_rng(0)
    first_of_user = ordered.groupby("user_id").head(1).index.to_numpy()
    rows = np.concatenate([rng.choice(100000, size=40, replace=False), first_of_user[:5], [99999, 70000, 0]])
    for row in rows:
        earlier = np.flatnonzero((users == users[row]) & (np.arange(100000) < row))
        assert (ts[earlier] <= ts[row]).all()
        recent = items[earlier][-50:]
        expected = np.zeros(50, np.int64)
        if len(recent):
            expected[50 - len(recent) :] = item_field.encode(pd.Series(recent))
        assert np.array_equal(hist[row], expected), f"history of event {row}"
    # the first event of a user has an empty (all padding) history
    for row in first_of_user[:20]:
        assert not hist[row].any()
    # left padding: once a position holds an item, every later position does too
    nonzero = hist > 0
    assert (np.diff(nonzero.astype(int), axis=1) >= 0).all()
    lengths = nonzero.sum(1)
    assert lengths.max() == 50 and (lengths < 50).any()
    # categories follow the items
    cate = torch.cat(
        [ds.train.sequences["hist_cate"], ds.valid.sequences["hist_cate"], ds.test.sequences["hist_cate"]]
    ).numpy()
    assert np.array_equal(cate > 0, nonzero)


def test_every_data_set_is_reachable_by_name_with_one_signature():
    import inspect

    from mlpzoo.data.datasets import dataset_entry, list_datasets

    names = list_datasets()
    assert {
        "frappe",
        "cora",
        "citeseer",
        "cifar10",
        "fashion-mnist",
        "etth1",
        "can",
        "mpea",
        "digits",
        "series",
    } <= set(names)
    for name in names:
        parameters = list(inspect.signature(dataset_entry(name).loader).parameters)
        assert parameters[0] == "data_dir", name


def test_every_data_set_is_registered_in_one_place_without_importing_its_loader():
    """All registrations live in data/datasets.py (lazily): a fresh interpreter that imports only that module
    lists every data set, and none of the loader modules (scikit-image, fonts, WordNet readers) was imported."""
    import subprocess
    import sys

    code = (
        "import sys; from mlpzoo.data.datasets import list_datasets; "
        "print(','.join(list_datasets())); "
        "loaders = ('mlpzoo.data.mosaics', 'mlpzoo.data.scenes', 'mlpzoo.data.text'); "
        "print(','.join(m for m in loaders if m in sys.modules))"
    )
    names, imported = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    from mlpzoo.data.datasets import list_datasets

    assert names.split(",") == list_datasets()
    assert {"mosaics", "motorcycle-depth", "photo-pan-video", "wordnet", "emoji-captions"} <= set(names.split(","))
    assert imported == ""


def test_unknown_data_set_name_suggests_close_names():
    from mlpzoo.data.datasets import load_dataset

    with pytest.raises(ConfigError, match="did you mean 'cifar10'"):
        load_dataset("cifar")


def test_bundled_data_sets_load_by_name():
    from mlpzoo.data.datasets import load_dataset

    images, labels = load_dataset("digits")
    assert images.shape[1:] == (1, 8, 8) and len(labels) == len(images)
    assert len(load_dataset("series", series="nile_yearly")) == 100


def test_graph_data_set_by_name(need_data):
    from mlpzoo.data.datasets import load_dataset

    graph = load_dataset("cora", data_dir=need_data("planetoid"))
    assert graph.num_nodes == 2708
