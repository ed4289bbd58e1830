"""Encoded data held as tensors, served in batches by slicing (no DataLoader, no per-row Python)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch

from mlpzoo.errors import DataError

Batch = dict[str, torch.Tensor | dict[str, torch.Tensor]]


def _check_rows(where: str, **parts: torch.Tensor | None) -> None:
    """Every part is a tensor with the same number of rows (None parts are absent)."""
    rows = None
    for name, value in parts.items():
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            raise DataError(
                f"{where}: {name} is a {type(value).__name__}, not a tensor; convert it with torch.as_tensor"
            )
        if value.dim() == 0:
            raise DataError(f"{where}: {name} is a scalar; pass one row per sample")
        if rows is None:
            first, rows = name, value.shape[0]
        elif value.shape[0] != rows:
            raise DataError(f"{where}: {first} has {rows} rows but {name} has {value.shape[0]}; pass matching rows")


@dataclass
class TensorTable:
    """Rows of encoded features: categorical ids ``(N, Fc)``, numerics ``(N, Fn)``, sequences ``(N, L)``."""

    categorical: torch.Tensor
    numeric: torch.Tensor
    sequences: dict[str, torch.Tensor] = field(default_factory=dict)
    label: torch.Tensor | None = None
    group: torch.Tensor | None = None

    def __post_init__(self) -> None:
        _check_rows(
            "TensorTable",
            categorical=self.categorical,
            numeric=self.numeric,
            label=self.label,
            group=self.group,
            **{f"sequences[{k!r}]": v for k, v in self.sequences.items()},
        )

    def __len__(self) -> int:
        return self.categorical.shape[0]

    def select(self, index: torch.Tensor | slice) -> "TensorTable":
        return TensorTable(
            self.categorical[index],
            self.numeric[index],
            {k: v[index] for k, v in self.sequences.items()},
            None if self.label is None else self.label[index],
            None if self.group is None else self.group[index],
        )

    def as_batch(self) -> Batch:
        batch: Batch = {"categorical": self.categorical, "numeric": self.numeric, "sequences": self.sequences}
        if self.label is not None:
            batch["label"] = self.label
        if self.group is not None:
            batch["group"] = self.group
        return batch

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0) -> Iterator[Batch]:
        """Batches in order, or in a permutation fixed by ``(seed, epoch)`` so a resumed run sees the same order."""
        n = len(self)
        if shuffle:
            generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
            order = torch.randperm(n, generator=generator)
            table = self.select(order)
        else:
            table = self
        for start in range(0, n, batch_size):
            yield table.select(slice(start, start + batch_size)).as_batch()

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)


@dataclass
class ArrayData:
    """Dense inputs and targets (tabular rows, images, function fitting), batched like :class:`TensorTable`.

    Batches are ``{"x": (B, ...), "label": (B, ...)}``; ``label`` is float for regression and
    integer class ids for classification.
    """

    x: torch.Tensor
    label: torch.Tensor
    group: torch.Tensor | None = None

    def __post_init__(self) -> None:
        _check_rows("ArrayData", x=self.x, label=self.label, group=self.group)

    def __len__(self) -> int:
        return self.x.shape[0]

    def select(self, index: torch.Tensor | slice) -> "ArrayData":
        return ArrayData(self.x[index], self.label[index], None if self.group is None else self.group[index])

    def as_batch(self) -> Batch:
        return {"x": self.x, "label": self.label}

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0) -> Iterator[Batch]:
        data = (
            self.select(torch.randperm(len(self), generator=torch.Generator().manual_seed(seed * 100_003 + epoch)))
            if shuffle
            else self
        )
        for start in range(0, len(self), batch_size):
            yield data.select(slice(start, start + batch_size)).as_batch()
