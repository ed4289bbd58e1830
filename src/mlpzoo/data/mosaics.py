"""Multi-label mosaics: 2 x 2 grids of real Fashion-MNIST or CIFAR-10 images, labelled with the set of classes present.

A stand-in for multi-label image sets such as Chest X-ray14 (SwinCheX's data, not available offline): every
image holds one to four real objects, labels are a binary vector over the classes, classes are imbalanced,
and findings co-occur with a stated, non-uniform structure:

- an **anchor** class is drawn from a long-tailed prior, ``P(c) proportional to 1 / (1 + c)`` (class 0 is ten
  times as common as class 9, as the frequent and rare findings of X-ray14 differ);
- the anchor fills one tile; each of the other three tiles independently holds the anchor's **partner**
  ``c XOR 1`` (0 with 1, 2 with 3, ..., 8 with 9) with probability 0.4, the anchor again with 0.2, a class from
  the prior with 0.2, and nothing (a blank tile) with 0.2;
- the four tiles are then placed in a random order. Labels are the classes of the non-blank tiles.

So a partner pair co-occurs far more often than two unrelated classes (:func:`co_occurrence` measures it).
Tiles are real images of the source's split, downsampled by average pooling to ``tile`` pixels (14 for
Fashion-MNIST's 28, 16 for CIFAR-10's 32), so a mosaic is the size of one source image. ``train`` and
``valid`` draw tiles from disjoint parts of the source's training split (a fixed sixth is held out for
validation), ``test`` from its test split. Everything is a function of ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mlpzoo.errors import DataError

__all__ = ["CO_OCCURRENCE", "MosaicSet", "co_occurrence", "load_mosaics", "make_mosaics"]

SOURCES = ("fashion-mnist", "cifar10")
SPLITS = ("train", "valid", "test")
NUM_CLASSES = 10
# Probabilities of what each of the three tiles beside the anchor holds.
CO_OCCURRENCE = {"partner": 0.4, "anchor": 0.2, "prior": 0.2, "blank": 0.2}
VALID_FRACTION_SEED = 0  # the held-out validation sixth of the source's training split is fixed
_SPLIT_OFFSET = {"train": 0, "valid": 1, "test": 2}


@dataclass
class MosaicSet:
    """``images`` uint8 ``(N, C, 2 tile, 2 tile)``, ``targets`` float32 ``(N, 10)`` (1 where a class is present)."""

    images: torch.Tensor
    targets: torch.Tensor
    classes: tuple[str, ...]
    source: str
    split: str

    def __len__(self) -> int:
        return len(self.images)


def anchor_prior(num_classes: int = NUM_CLASSES) -> np.ndarray:
    weights = 1.0 / (1.0 + np.arange(num_classes))
    return weights / weights.sum()


def partner(c: np.ndarray) -> np.ndarray:
    return np.bitwise_xor(c, 1)


def _tile_classes(count: int, rng: np.random.Generator, num_classes: int) -> np.ndarray:
    """``(count, 4)`` class per tile, -1 for blank, following the co-occurrence structure above (positions shuffled)."""
    prior = anchor_prior(num_classes)
    anchor = rng.choice(num_classes, size=count, p=prior)
    kinds = rng.choice(len(CO_OCCURRENCE), size=(count, 3), p=list(CO_OCCURRENCE.values()))
    others = np.select(
        [kinds == 0, kinds == 1, kinds == 2],
        [
            partner(anchor)[:, None].repeat(3, 1),
            anchor[:, None].repeat(3, 1),
            rng.choice(num_classes, (count, 3), p=prior),
        ],
        default=-1,
    )
    tiles = np.concatenate([anchor[:, None], others], axis=1)
    return np.take_along_axis(tiles, rng.permuted(np.tile(np.arange(4), (count, 1)), axis=1), axis=1)


def _downsample(images: torch.Tensor, tile: int) -> torch.Tensor:
    side = images.shape[-1]
    if side % tile:
        raise DataError(f"mosaics: tile={tile} must divide the source image side {side} (use {side // 2} or {side})")
    pooled = torch.nn.functional.avg_pool2d(images.float(), side // tile)
    return pooled.round().clamp(0, 255).to(torch.uint8)


def make_mosaics(
    images: torch.Tensor, labels: torch.Tensor, count: int, seed: int, tile: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` mosaics from uint8 ``images (N, C, S, S)`` with class ``labels``: (images, multi-label targets)."""
    if count < 1:
        raise DataError(f"mosaics: count={count} must be at least 1")
    rng = np.random.default_rng(seed)
    tiles = _downsample(images, tile)
    labels_np = labels.numpy()
    by_class = [np.flatnonzero(labels_np == c) for c in range(NUM_CLASSES)]
    if any(len(members) == 0 for members in by_class):
        raise DataError("mosaics: the source split lacks some of the 10 classes; pass all of them")
    classes = _tile_classes(count, rng, NUM_CLASSES)
    out = torch.zeros(count, images.shape[1], 2 * tile, 2 * tile, dtype=torch.uint8)
    targets = torch.zeros(count, NUM_CLASSES, dtype=torch.float32)
    for position in range(4):
        row, col = divmod(position, 2)
        for c in range(NUM_CLASSES):
            where = np.flatnonzero(classes[:, position] == c)
            if len(where) == 0:
                continue
            picked = torch.from_numpy(rng.choice(by_class[c], size=len(where)))
            index = torch.from_numpy(where)
            out[index, :, row * tile : (row + 1) * tile, col * tile : (col + 1) * tile] = tiles[picked]
            targets[index, c] = 1.0
    return out, targets


def co_occurrence(targets: torch.Tensor) -> torch.Tensor:
    """``P(class j present | class i present)`` as a ``(10, 10)`` matrix (rows of absent classes are 0)."""
    present = targets.double()
    counts = present.T @ present
    return (counts / counts.diagonal().clamp(min=1).unsqueeze(1)).float()


def _source(source: str, split: str, data_dir) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    from mlpzoo.data import images as readers

    if source == "cifar10":
        return (*readers.load_cifar10(split, data_dir), readers.CIFAR10_CLASSES)
    from pathlib import Path

    folder = None if data_dir is None else Path(data_dir) / "fashion-mnist"
    found = readers.load_fashion_mnist(split, folder if folder is not None and folder.is_dir() else None)
    return (*found, readers.FASHION_MNIST_CLASSES)


def load_mosaics(
    data_dir=None,
    source: str = "fashion-mnist",
    split: str = "train",
    count: int = 10_000,
    seed: int = 0,
    tile: int | None = None,
) -> MosaicSet:
    """``count`` mosaics of ``split`` ("train", "valid" or "test") built from ``source`` with ``seed``."""
    if source not in SOURCES:
        raise DataError(f"mosaics: source={source!r}; use one of {', '.join(SOURCES)}")
    if split not in SPLITS:
        raise DataError(f"mosaics: split={split!r}; use one of {', '.join(SPLITS)}")
    images, labels, names = _source(source, "test" if split == "test" else "train", data_dir)
    if split != "test":
        held_out = np.random.default_rng(VALID_FRACTION_SEED).permutation(len(labels)) < len(labels) // 6
        keep = torch.from_numpy(held_out if split == "valid" else ~held_out)
        images, labels = images[keep], labels[keep]
    tile = tile or images.shape[-1] // 2
    mosaics, targets = make_mosaics(images, labels, count, seed * 3 + _SPLIT_OFFSET[split], tile)
    return MosaicSet(mosaics, targets, tuple(names), source, split)
