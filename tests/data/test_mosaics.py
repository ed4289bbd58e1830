"""The multi-label mosaics: real tiles in place, labels = the classes present, the stated co-occurrence, seeds."""

import pytest
import torch

from mlpzoo.data import list_datasets, load_dataset
from mlpzoo.data.mosaics import CO_OCCURRENCE, anchor_prior, co_occurrence, make_mosaics
from mlpzoo.errors import DataError


def _source(n_per_class=20, side=8, channels=1):
    """Each class's images are filled with its own grey level, so a tile's class can be read off its pixels."""
    labels = torch.arange(10).repeat_interleave(n_per_class)
    images = (labels * 20 + 10).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, channels, side, side).clone()
    return images, labels


def test_labels_are_the_classes_of_the_tiles():
    images, labels = _source()
    mosaics, targets = make_mosaics(images, labels, 300, seed=1, tile=4)
    assert mosaics.shape == (300, 1, 8, 8) and targets.shape == (300, 10)
    for mosaic, target in zip(mosaics, targets):
        tiles = [int(mosaic[0, r * 4, c * 4]) for r in (0, 1) for c in (0, 1)]
        present = {(t - 10) // 20 for t in tiles if t != 0}  # 0 = a blank tile
        assert present == set(torch.nonzero(target).view(-1).tolist())
    assert targets.sum(1).min() >= 1 and targets.sum(1).max() <= 4


def test_co_occurrence_structure_is_the_stated_one():
    images, labels = _source()
    _, targets = make_mosaics(images, labels, 20_000, seed=0, tile=4)
    matrix = co_occurrence(targets)
    # Partners (c XOR 1) appear together far more often than unrelated classes.
    partner = torch.stack([matrix[c, c ^ 1] for c in range(10)])
    assert partner.min() > 0.5
    unrelated = matrix[4, 8], matrix[6, 9], matrix[2, 7]
    assert max(float(u) for u in unrelated) < 0.15
    # Class frequencies follow the long-tailed prior (class 0 much more common than class 9).
    frequency = targets.mean(0)
    assert frequency[0] > 4 * frequency[9]
    assert abs(sum(CO_OCCURRENCE.values()) - 1) < 1e-9 and abs(anchor_prior().sum() - 1) < 1e-9


def test_deterministic_from_the_seed():
    images, labels = _source()
    a = make_mosaics(images, labels, 50, seed=3, tile=4)
    b = make_mosaics(images, labels, 50, seed=3, tile=4)
    c = make_mosaics(images, labels, 50, seed=4, tile=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


def test_bad_arguments_are_one_line_errors():
    images, labels = _source()
    with pytest.raises(DataError, match="tile=3 must divide"):
        make_mosaics(images, labels, 5, seed=0, tile=3)
    with pytest.raises(DataError, match="count=0"):
        make_mosaics(images, labels, 0, seed=0, tile=4)
    with pytest.raises(DataError, match="source="):
        load_dataset("mosaics", source="imagenet")


def test_registered_and_built_from_real_fashion_mnist(need_data):
    need_data("fashion-mnist")
    assert "mosaics" in list_datasets()
    train = load_dataset("mosaics", split="train", count=40, seed=0)
    valid = load_dataset("mosaics", split="valid", count=40, seed=0)
    assert train.images.shape == (40, 1, 28, 28) and train.targets.shape == (40, 10)
    assert not torch.equal(train.images, valid.images) and train.classes[0] == "T-shirt/top"
