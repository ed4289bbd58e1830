"""Ranking metrics for CTR: AUC and log loss from scikit-learn, group AUC (gAUC); the energy distance
between sets of draws.

gAUC is DIN's user-weighted AUC (Zhou et al., KDD 2018, eq. 1): the AUC of each user that has
both classes, averaged with weights equal to that user's number of impressions. scikit-learn
has no grouped AUC, so it is computed here in one vectorised pass (ranks within groups via a
lexicographic sort, ties given their mean rank, as the Mann-Whitney statistic requires).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score


def auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    if np.unique(y_true).size < 2:
        return float("nan")
    return float(roc_auc_score(y_true, y_score))


def logloss(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    return float(log_loss(y_true, np.clip(y_prob, 1e-7, 1 - 1e-7), labels=[0, 1]))


def group_auc(y_true: np.ndarray, y_score: np.ndarray, groups: np.ndarray) -> float:
    """Impression-weighted mean of per-group AUC over groups holding both classes."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    order = np.lexsort((y_score, g))
    g_sorted, s_sorted, y_sorted = g[order], y_score[order], y_true[order]
    # Mean rank of tied (group, score) runs, 1-based within each group.
    n = len(order)
    run_start = np.r_[True, (g_sorted[1:] != g_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])]
    run_id = np.cumsum(run_start) - 1
    run_first = np.flatnonzero(run_start)
    run_last = np.r_[run_first[1:], n] - 1
    group_first = np.r_[0, np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1]
    group_offset = np.repeat(group_first, np.diff(np.r_[group_first, n]))
    ranks = (run_first[run_id] + run_last[run_id]) / 2.0 - group_offset + 1.0
    num_groups = g.max() + 1 if n else 0
    size = np.bincount(g_sorted, minlength=num_groups).astype(np.float64)
    pos = np.bincount(g_sorted, weights=y_sorted, minlength=num_groups)
    neg = size - pos
    rank_sum_pos = np.bincount(g_sorted, weights=ranks * y_sorted, minlength=num_groups)
    valid = (pos > 0) & (neg > 0)
    if not valid.any():
        return float("nan")
    per_group = (rank_sum_pos[valid] - pos[valid] * (pos[valid] + 1) / 2) / (pos[valid] * neg[valid])
    return float(np.average(per_group, weights=size[valid]))


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Energy distance ``2E|X-Y| - E|X-X'| - E|Y-Y'|`` between batches of draws ``x (n, s, d)`` and
    ``y (n, t, d)``, one value per batch row (Szekely & Rizzo, 2013). It is zero when the two sets of
    draws coincide and grows with any difference in distribution, not only in the means. The V-statistic
    (each draw also paired with itself), so a set of one point against itself is 0."""
    if x.dim() != 3 or y.dim() != 3 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(
            f"energy_distance expects x (n, s, d) and y (n, t, d); got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return 2 * torch.cdist(x, y).mean((1, 2)) - torch.cdist(x, x).mean((1, 2)) - torch.cdist(y, y).mean((1, 2))
