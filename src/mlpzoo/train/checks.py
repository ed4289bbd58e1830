"""Checks the Trainer runs before it trains: labels that fit the task, and a configuration that takes steps."""

from __future__ import annotations

import torch

from mlpzoo.errors import DataError, TrainingError

_SHOWN = 6


def check_labels(task_name: str, data, split: str) -> None:
    """Binary labels are exactly {0, 1} (both classes present); class ids are non-negative integers.

    Reads ``data.label`` where the data set holds its labels as one tensor (``TensorTable``,
    ``ArrayData``); streamed data is checked batch by batch by the task's loss instead.
    """
    label = getattr(data, "label", None)
    if not isinstance(label, torch.Tensor) or label.numel() == 0:
        return
    if task_name == "binary_ctr":
        _check_binary(label, split)
    elif task_name == "classification" and not label.is_floating_point() and int(label.min()) < 0:
        raise DataError(
            f"{split} labels for classification must be class ids 0..C-1, found {int(label.min())}; "
            "map them to 0..C-1 first (e.g. with numpy.unique(y, return_inverse=True))"
        )


def _check_binary(label: torch.Tensor, split: str) -> None:
    values = torch.unique(label.detach().reshape(-1).cpu().double())
    if not torch.isin(values, torch.tensor([0.0, 1.0], dtype=torch.float64)).all():
        found = ", ".join(f"{v:g}" for v in values[:_SHOWN].tolist()) + (", ..." if len(values) > _SHOWN else "")
        raise DataError(
            f"{split} labels for binary_ctr must be 0 or 1 (or False/True), found {found}; map them first, "
            "e.g. label = (label > 0) for -1/+1 labels, or label == positive_value"
        )
    if len(values) < 2:
        only = f"{values[0].item():g}"
        what = "AUC needs both classes" if split == "valid" else "a classifier cannot learn from one class"
        raise DataError(
            f"the {split} split holds only label {only} ({label.numel()} rows); {what}: give the {split} "
            "split rows of both labels (e.g. a stratified split)"
        )


def steps_per_epoch(rows: int, batch_size: int, world_size: int, max_batches: int | None) -> int:
    """Optimisation steps one epoch takes; a batch that leaves a process under 2 rows is skipped (BatchNorm)."""
    full, rest = divmod(rows, batch_size)
    steps = (full if batch_size >= 2 * world_size else 0) + (1 if rest >= 2 * world_size else 0)
    return min(steps, max_batches) if max_batches else steps


def check_takes_steps(data, batch_size: int, world_size: int, where: str = "train") -> None:
    """Refuse a fit that would take no optimisation step (and report success with untrained weights)."""
    if not hasattr(data, "__len__"):
        return
    rows = len(data)
    if steps_per_epoch(rows, batch_size, world_size, None) == 0:
        raise TrainingError(
            f"{where}: {rows} training row(s) with batch_size {batch_size} and world size {world_size} "
            "take no optimisation step (every step needs at least 2 rows per process); use at least "
            f"{2 * world_size} rows and batch_size >= {2 * world_size}"
        )
