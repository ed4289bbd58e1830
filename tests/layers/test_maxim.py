"""MAXIM's blocks: the partition helpers, the axis each branch mixes along, the odd-size error, cross-gating."""

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.maxim import (
    CrossGatingBlock,
    MultiAxisGatedMLP,
    ResidualChannelAttentionBlock,
    SpatialGatingUnit,
    block_images,
    partition_multiple,
    unblock_images,
)


def _map(h=8, w=8, c=6, seed=0):
    return torch.randn(2, h, w, c, generator=torch.Generator().manual_seed(seed))


def test_block_and_unblock_are_inverse_and_group_windows():
    x = _map(8, 12)
    parts = block_images(x, 4, 3)
    assert parts.shape == (2, 2 * 4, 12, 6)
    assert torch.equal(unblock_images(parts, 2, 4, 4, 3), x)
    # The first patch is the top-left 4 x 3 window, row by row.
    assert torch.equal(parts[:, 0], x[:, :4, :3].reshape(2, 12, 6))


def test_block_branch_is_local_and_grid_branch_is_global():
    """A change at one pixel moves the block gate only inside its window, the grid gate only at the same offset
    in every grid cell."""
    torch.manual_seed(0)
    x = _map(8, 8, 4)
    for axis, expect in (("block", lambda r, c: r < 4 and c < 4), ("grid", lambda r, c: r % 4 == 0 and c % 4 == 0)):
        unit = SpatialGatingUnit(4, axis, 2 if axis == "grid" else 4)
        torch.nn.init.normal_(unit.mix.mix.weight)
        y = x.clone()
        y[:, 0, 0, 2] += 1.0  # one channel of the gate half v (LayerNorm ignores a shift of all), at pixel (0, 0)
        changed = (unit(y) - unit(x)).abs().sum(dim=(0, 3)) > 1e-4
        wanted = torch.tensor([[expect(r, c) for c in range(8)] for r in range(8)])
        assert torch.equal(changed, wanted), axis


def test_multi_axis_block_keeps_shape_and_starts_near_identity_gates():
    block = MultiAxisGatedMLP(8, block_size=4, grid_size=2)
    x = _map(8, 8, 8)
    assert block(x).shape == x.shape
    # Different image sizes (multiples of lcm(4, 2) = 4) run with the same weights: fully convolutional.
    assert block(_map(12, 16, 8)).shape == (2, 12, 16, 8)


def test_odd_size_is_refused_with_the_multiple_it_needs():
    block = MultiAxisGatedMLP(8, block_size=4, grid_size=3)
    assert partition_multiple(4, 3) == 12
    with pytest.raises(ConfigError, match="not a multiple of 12") as err:
        block(_map(10, 12, 8))
    assert "\n" not in str(err.value)


def test_cross_gating_block_gates_each_input_by_the_other():
    torch.manual_seed(0)
    cross = CrossGatingBlock(6, 4, 8, block_size=4, grid_size=2)
    x, y = _map(8, 8, 6), _map(8, 8, 4, seed=1)
    x_out, y_out = cross(x, y)
    assert x_out.shape == y_out.shape == (2, 8, 8, 8)
    # y's output depends on x (through x's gating weights) and the other way round.
    x2 = x + 0.5
    assert not torch.allclose(cross(x2, y)[1], y_out)
    with pytest.raises(ConfigError, match="differ in batch or spatial size"):
        cross(x, _map(4, 4, 4))


def test_residual_channel_attention_block_shape():
    assert ResidualChannelAttentionBlock(8)(_map(4, 4, 8)).shape == (2, 4, 4, 8)
