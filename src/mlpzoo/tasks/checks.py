"""Batch checks shared by the tasks: cheap (shapes and types, never a pass over the values)."""

from __future__ import annotations

import torch

from mlpzoo.errors import DataError


def check_label(outputs: torch.Tensor, batch, task: str) -> torch.Tensor:
    """The batch's ``label`` tensor; for ``binary_ctr`` it must match the logits' shape."""
    label = batch.get("label") if isinstance(batch, dict) else None
    if not isinstance(label, torch.Tensor):
        raise DataError(
            f"{task}: the batch has no 'label' tensor (got {type(label).__name__}); pass labels with the data"
        )
    if task == "binary_ctr" and label.shape != outputs.shape:
        raise DataError(
            f"binary_ctr: batch['label'] has shape {tuple(label.shape)} but the logits {tuple(outputs.shape)}; "
            "pass one 0/1 label per row"
        )
    if task == "binary_ctr" and not label.is_floating_point():
        raise DataError(
            f"binary_ctr: batch['label'] has dtype {label.dtype}; cast the 0/1 labels to float (label.float())"
        )
    return label
