"""Full-batch node-classification training: the loop GLNN, FF-G2M and Mowst use for small graphs.

Every epoch is one Adam step on a loss over the whole graph, then the validation accuracy; the
weights with the best validation accuracy are kept (ties go to the later epoch, as in the
GLNN and FF-G2M code) and training stops after ``patience`` epochs without improvement. This is
not a minibatch fit over independent rows, so it is the Trainer's full-batch sibling: it shares
the Trainer's seeding (:func:`mlpzoo.train.seed_everything`) and keeps the best weights in memory.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FitConfig",
    "FullBatchResult",
    "accuracy",
    "cross_entropy_on",
    "feature_matrix",
    "fit_full_batch",
]

SPARSE_DENSITY = 0.1


@dataclass
class FitConfig:
    """Adam settings and early stopping; defaults are GLNN's (lr 0.01, 500 epochs, patience 50).

    ``min_epochs``: the kept weights come from epoch ``min_epochs`` or later, and patience starts
    counting there (0: from the first epoch, as GLNN and FF-G2M do).
    """

    lr: float = 0.01
    weight_decay: float = 5e-4
    max_epochs: int = 500
    patience: int = 50
    min_epochs: int = 0


@dataclass
class FullBatchResult:
    """Best validation accuracy, the epoch it was reached at, and the epochs run."""

    best_val_acc: float
    best_epoch: int
    epochs: int


def feature_matrix(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a sparse CSR tensor when under 10 % of it is non-zero (bag-of-words features such
    as Cora's: the first linear layer then costs the non-zeros, not N x F), else unchanged."""
    if x.is_sparse or x.layout == torch.sparse_csr:
        return x
    if x.numel() and (x != 0).float().mean() < SPARSE_DENSITY:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return x.to_sparse_csr()
    return x


def accuracy(logits: torch.Tensor, y: torch.Tensor, index: torch.Tensor | None = None) -> float:
    if index is not None:
        logits, y = logits[index], y[index]
    if len(y) == 0:
        return float("nan")
    return float((logits.argmax(-1) == y).float().mean())


def fit_full_batch(
    model: nn.Module,
    logits_fn: Callable[[], torch.Tensor],
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    y: torch.Tensor,
    val_index: torch.Tensor,
    config: FitConfig,
    parameters: Iterable[nn.Parameter] | None = None,
) -> FullBatchResult:
    """Train ``model`` (whose forward is ``logits_fn()``, logits of all nodes) on ``loss_fn(logits)``;
    restores the weights of the best validation epoch."""
    optimizer = torch.optim.Adam(
        parameters if parameters is not None else model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    best, best_epoch, wait, state, epoch = -1.0, 0, 0, None, 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        optimizer.zero_grad()
        loss_fn(logits_fn()).backward()
        optimizer.step()
        if epoch < config.min_epochs:
            continue
        model.eval()
        with torch.no_grad():
            val_acc = accuracy(logits_fn(), y, val_index)
        if val_acc >= best:
            best, best_epoch, wait = val_acc, epoch, 0
            state = copy.deepcopy(model.state_dict())
        else:
            wait += 1
            if wait >= config.patience:
                break
    if state is not None:
        model.load_state_dict(state)
    model.eval()
    return FullBatchResult(best, best_epoch, epoch)


def cross_entropy_on(index: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The supervised loss: cross-entropy on the labelled nodes ``index``."""
    return lambda logits: F.cross_entropy(logits[index], y[index])
