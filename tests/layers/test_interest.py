"""DIN's local activation unit and the masked pooling helpers."""

import numpy as np
import pytest
import torch

from mlpzoo.layers.interest import LocalActivationUnit, masked_mean_pool, masked_sum_pool


def _inputs(seed=0, dim=4):
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(3, dim, generator=g)
    history = torch.randn(3, 5, dim, generator=g)
    mask = torch.tensor([[False, False, True, True, True], [True] * 5, [False, False, False, False, True]])
    return target, history, mask


@pytest.mark.parametrize("activation,train", [("dice", False), ("dice", True), ("prelu", True), ("relu", True)])
@pytest.mark.parametrize("use_softmax", [False, True])
def test_padding_does_not_change_output(activation, train, use_softmax):
    torch.manual_seed(0)
    unit = LocalActivationUnit(4, (8, 4), activation=activation, use_softmax=use_softmax)
    unit.train(train)
    target, history, mask = _inputs()
    out = unit(target, history, mask)
    changed = history.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), 4) * 50
    torch.testing.assert_close(unit(target, changed, mask), out)
    # while changing a valid position does change it
    changed_valid = history.clone()
    changed_valid[0, 3] += 1.0
    assert not torch.allclose(unit(target, changed_valid, mask)[0], out[0])


def test_unnormalised_scores_match_manual_computation():
    torch.manual_seed(1)
    unit = LocalActivationUnit(4, (8,), activation="relu")
    target, history, mask = _inputs(1)
    t = target.unsqueeze(1).expand_as(history)
    features = torch.cat([t, history, t - history, t * history], dim=-1)
    scores = unit.scorer(features.reshape(-1, 16)).view(3, 5)
    expected = ((scores * mask).unsqueeze(-1) * history).sum(1)
    torch.testing.assert_close(unit(target, history, mask), expected)


def test_softmax_weights_sum_to_one_over_valid_positions():
    torch.manual_seed(2)
    # A constant last coordinate makes the pooled last coordinate equal the sum of the weights.
    target, history, mask = _inputs(2, dim=3)
    history = torch.cat([history, torch.ones(3, 5, 1)], dim=-1)
    target = torch.cat([target, torch.ones(3, 1)], dim=-1)
    unit = LocalActivationUnit(4, (8, 4), activation="prelu", use_softmax=True)
    with torch.no_grad():
        unit.scorer[-1].bias.fill_(3.0)  # scores far from zero, so "unnormalised" would not sum to 1
    out = unit(target, history, mask)
    torch.testing.assert_close(out[:, -1], torch.ones(3))
    # A single valid position gets weight 1: the output is that behaviour itself.
    torch.testing.assert_close(out[2], history[2, 4])

    raw = LocalActivationUnit(4, (8, 4), activation="prelu", use_softmax=False)
    raw.load_state_dict(unit.state_dict())
    t = target.unsqueeze(1).expand_as(history)
    scores = raw.scorer(torch.cat([t, history, t - history, t * history], -1).reshape(-1, 16)).view(3, 5)
    torch.testing.assert_close(raw(target, history, mask)[:, -1], (scores * mask).sum(1))
    assert not torch.allclose((scores * mask).sum(1), torch.ones(3))


def test_softmax_all_padded_row_gives_zeros():
    torch.manual_seed(3)
    unit = LocalActivationUnit(2, (4,), activation="relu", use_softmax=True)
    target = torch.randn(2, 2)
    history = torch.randn(2, 3, 2)
    mask = torch.tensor([[False, False, False], [True, False, True]])
    out = unit(target, history, mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0], torch.zeros(2))


def test_masked_pools():
    history = torch.tensor(np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2))
    mask = torch.tensor([[True, False, True], [False, False, False]])
    # row 0: positions 0 and 2 -> [0,1] + [4,5]
    torch.testing.assert_close(masked_sum_pool(history, mask), torch.tensor([[4.0, 6.0], [0.0, 0.0]]))
    torch.testing.assert_close(masked_mean_pool(history, mask), torch.tensor([[2.0, 3.0], [0.0, 0.0]]))
    full = torch.ones(2, 3, dtype=torch.bool)
    torch.testing.assert_close(masked_mean_pool(history, full), history.mean(1))
