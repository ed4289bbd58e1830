"""AUC, log loss and group AUC against scikit-learn."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from mlpzoo.errors import ConfigError
from mlpzoo.tasks import get_task
from mlpzoo.tasks.metrics import auc, energy_distance, group_auc, logloss


def _reference_gauc(y, s, g):
    total, weight = 0.0, 0
    for group in np.unique(g):
        idx = g == group
        if np.unique(y[idx]).size < 2:
            continue
        total += roc_auc_score(y[idx], s[idx]) * idx.sum()
        weight += idx.sum()
    return total / weight if weight else float("nan")


@pytest.mark.parametrize("seed", range(5))
def test_group_auc_matches_sklearn_per_group(seed):
    rng = np.random.default_rng(seed)
    n = 400
    g = rng.integers(0, 25, size=n)
    y = (rng.random(n) < 0.4).astype(float)
    s = np.round(rng.random(n) * 0.6 + 0.4 * y * rng.random(n), 1)  # many ties
    assert len(np.unique(s)) < 15
    # a few groups with one class only, which must be left out
    y[g == 3] = 1.0
    y[g == 7] = 0.0
    g = np.where(g == 11, 1000, g)  # group labels need not be contiguous
    expected = _reference_gauc(y, s, g)
    assert group_auc(y, s, g) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # string groups and shuffled rows give the same value
    order = rng.permutation(n)
    assert group_auc(y[order], s[order], g.astype(str)[order]) == pytest.approx(expected, rel=1e-12)


def test_group_auc_excludes_single_class_groups_by_hand():
    y = np.array([1, 0, 0, 1, 1, 1, 0, 0])
    s = np.array([0.9, 0.1, 0.5, 0.5, 0.2, 0.3, 0.4, 0.6])
    g = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    # group 0: auc 1 (2 rows), group 1: tie -> 0.5 (2 rows), groups 2 and 3 have one class
    assert group_auc(y, s, g) == pytest.approx((1.0 * 2 + 0.5 * 2) / 4)
    # weights are group sizes: group 0 larger now
    y2 = np.array([1, 0, 0, 0, 0, 1])
    s2 = np.array([0.9, 0.1, 0.2, 0.3, 0.8, 0.7])
    g2 = np.array([0, 0, 0, 0, 1, 1])
    assert group_auc(y2, s2, g2) == pytest.approx((1.0 * 4 + 0.0 * 2) / 6)


def test_group_auc_single_group_equals_auc():
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)
    assert group_auc(y, s, np.zeros(200)) == pytest.approx(roc_auc_score(y, s), rel=1e-12)


def test_group_auc_no_valid_group_is_nan():
    assert math.isnan(group_auc(np.array([1, 1, 0]), np.array([0.1, 0.2, 0.3]), np.array([0, 0, 1])))


def test_auc_and_logloss():
    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.2, 0.2, 0.9, 0.4, 0.6])
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert math.isnan(auc(np.ones(4), np.array([0.1, 0.2, 0.3, 0.4])))
    assert math.isnan(auc(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4])))
    assert logloss(y, s) == pytest.approx(log_loss(y, s))
    # probabilities of exactly 0 or 1 are clipped, not infinite
    assert math.isfinite(logloss(np.array([1, 0]), np.array([0.0, 1.0])))
    # one class only still gives a log loss
    assert logloss(np.ones(3), np.array([0.9, 0.8, 0.7])) == pytest.approx(-np.log([0.9, 0.8, 0.7]).mean())


def test_binary_ctr_task():
    task = get_task("binary_ctr")
    logits = torch.tensor([0.0, 2.0, -1.0])
    labels = torch.tensor([1.0, 1.0, 0.0])
    loss = task.loss(logits, {"label": labels})
    expected = -(np.log(0.5) + np.log(1 / (1 + np.exp(-2))) + np.log(1 - 1 / (1 + np.exp(1)))) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(task.predict(logits), torch.sigmoid(logits))
    scores = task.evaluate(np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.7]), np.array([0, 0, 1, 1]))
    assert set(scores) == {"auc", "logloss", "gauc"}
    assert scores["gauc"] == pytest.approx(0.5)
    assert "gauc" not in task.evaluate(np.array([0, 1]), np.array([0.2, 0.8]))
    with pytest.raises(ConfigError):
        get_task("ranking")


def test_energy_distance():
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.normal(size=(2, 400, 3)))
    b = torch.from_numpy(rng.normal(size=(2, 400, 3)))
    assert energy_distance(a, a).abs().max().item() < 1e-9  # identical draws
    same, shifted, spread = (energy_distance(a, other) for other in (b, b + 2.0, 3.0 * b))
    assert same.max().item() < 0.05  # two samples of one distribution
    assert shifted.min().item() > 1.0 and spread.min().item() > 0.5  # a shift and a change of spread both show
    # One point at the mean of two modes is far from the two-mode distribution, though its mean matches.
    modes = torch.tensor([[[-1.0], [1.0]]]).repeat(1, 50, 1)
    assert energy_distance(torch.zeros(1, 1, 1), modes).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="expects x"):
        energy_distance(torch.zeros(4, 3), torch.zeros(4, 3))
