"""Global magnitude masks, random masks of equal sparsity, masked training and rewinding."""

import copy

import pytest
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.methods.pruning import (
    apply_masks,
    global_magnitude_masks,
    kept_fraction,
    prunable,
    random_masks,
    rescale_to_norm,
    rewind,
    weight_norm,
)


def test_global_magnitude_threshold_spans_tensors():
    weights = {"a": torch.tensor([[0.1, -5.0], [0.2, 0.3]]), "b": torch.tensor([[4.0, -0.05, 3.0]])}
    masks = global_magnitude_masks(weights, keep_fraction=3 / 7)
    assert masks["a"].tolist() == [[0, 1], [0, 0]]
    assert masks["b"].tolist() == [[1, 0, 1]]
    assert kept_fraction(masks) == pytest.approx(3 / 7)


def test_random_masks_keep_the_same_count():
    weights = {"a": torch.randn(10, 10), "b": torch.randn(5, 4)}
    masks = random_masks(weights, 0.3, torch.Generator().manual_seed(0))
    assert sum(int(m.sum()) for m in masks.values()) == 36
    other = random_masks(weights, 0.3, torch.Generator().manual_seed(1))
    assert any(not torch.equal(masks[k], other[k]) for k in masks)


def test_rewind_and_masked_training_keep_pruned_weights_at_zero():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    init = copy.deepcopy(model.state_dict())
    assert set(prunable(model)) == {"0.weight", "2.weight"}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    for _ in range(3):
        optimizer.zero_grad()
        (model(x) - y).square().mean().backward()
        optimizer.step()
    masks = global_magnitude_masks(prunable(model), 0.5)
    rewind(model, init, masks)
    for name, w in prunable(model).items():
        torch.testing.assert_close(w.detach(), init[name] * masks[name])
    torch.testing.assert_close(model[0].bias.detach(), init["0.bias"])  # biases are not pruned
    optimizer.zero_grad()
    (model(x) - y).square().mean().backward()
    optimizer.step()
    apply_masks(model, masks)
    for name, w in prunable(model).items():
        assert (w.detach()[masks[name] == 0] == 0).all()


def test_rescale_to_norm():
    model = nn.Linear(3, 3)
    factor = rescale_to_norm(model, 2.0)
    assert weight_norm(model) == pytest.approx(2.0) and factor > 0


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_bad_fraction(fraction):
    with pytest.raises(ConfigError):
        global_magnitude_masks({"a": torch.ones(2, 2)}, fraction)
