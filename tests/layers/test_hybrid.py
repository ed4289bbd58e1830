"""The vision-hybrid blocks: each mechanism against its formula or a property only it has."""

import math

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.hybrid import (
    DHVTBlock,
    DynamicAggregationFFN,
    EfficientModulation,
    GridAttentionBlock,
    HeadInteractionAttention,
    InvertedBottleneckBlock,
    MultiOrderSpatial,
    NiNBlock,
    SequentialOverlappingPatchEmbed,
    SpaRTANBlock,
    WaveChannelAggregation,
)


def _grid(b=2, h=6, w=6, c=8, seed=0):
    return torch.randn(b, h, w, c, generator=torch.Generator().manual_seed(seed))


def test_nin_block_gates_the_projection_with_the_inner_mixer():
    torch.manual_seed(0)
    block = NiNBlock(num_tokens=16, dim=8, token_hidden=4, channel_hidden=16, gate_hidden=16).eval()
    x = _grid(h=4, w=4)
    u = block.norm1(x)
    gated = x + block.value(u) * block.gate(u)
    assert torch.allclose(block(x), gated + block.mlp(block.norm2(gated)), atol=1e-6)
    # The gate is dynamic: it depends on the other tokens (the inner Mixer mixes over positions).
    other = x.clone()
    other[:, 0, 0] += torch.arange(8.0)
    assert not torch.allclose(block.gate(block.norm1(other))[:, 3, 3], block.gate(u)[:, 3, 3])


def test_multi_order_spatial_receptive_field_is_set_by_kernel_and_dilation():
    torch.manual_seed(0)
    module = MultiOrderSpatial(dim=6, orders=((3, 1), (5, 2), (7, 3)))
    x = torch.randn(1, 31, 31, 6, requires_grad=True)
    module(x)[0, 15, 15].sum().backward()
    reach = x.grad[0].abs().sum(-1)
    # A 5 x 5 local conv (radius 2), then 7 x 7 at dilation 3 (radius 9) on the widest group: radius 11.
    assert reach[15, 15 + 11] > 0 and reach[15 + 11, 15] > 0
    assert reach[15, 15 + 12] == 0 and reach[15 + 12, 15] == 0
    assert module.splits == [2, 2, 2]


def test_wave_channel_aggregation_is_amplitude_times_cos_and_sin_of_the_phase():
    torch.manual_seed(0)
    wave = WaveChannelAggregation(dim=4, hidden=6)
    x = _grid(c=4)
    with torch.no_grad():
        wave.phase.weight.zero_()
        wave.phase.bias.fill_(math.pi / 2)  # cos = 0: only the imaginary part is left
    a = torch.nn.functional.gelu(wave.dwconv(wave.amplitude(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
    assert torch.allclose(wave(x), wave.real.bias + wave.imag(a), atol=1e-5)
    with torch.no_grad():
        wave.phase.bias.zero_()  # sin = 0: only the real part
    assert torch.allclose(wave(x), wave.real(a), atol=1e-6)


def test_efficient_modulation_is_context_times_projection():
    torch.manual_seed(0)
    mod = EfficientModulation(dim=4, hidden=12, kernel=3)
    x = _grid(c=4)
    context = torch.nn.functional.gelu(mod.context_conv(mod.context_fc(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
    assert torch.allclose(mod(x), mod.out(context * mod.value(x)), atol=1e-6)


def test_conv_blocks_keep_the_grid_shape():
    x = _grid()
    for block in (SpaRTANBlock(8, 16), InvertedBottleneckBlock(8, 32), GridAttentionBlock(8, heads=2)):
        assert block(x).shape == x.shape


def test_head_tokens_join_attention_and_fold_into_the_class_token():
    torch.manual_seed(0)
    attention = HeadInteractionAttention(dim=8, heads=2)
    x = torch.randn(2, 1 + 16, 8)
    out = attention(x)
    assert out.shape == x.shape
    # Patch tokens see the head tokens: the same attention without them gives other outputs.
    plain = attention.attention(x)
    assert not torch.allclose(out[:, 1:], plain[:, 1:])
    with pytest.raises(ConfigError, match="heads=3"):
        HeadInteractionAttention(dim=8, heads=3)


def test_dynamic_aggregation_ffn_mixes_neighbours_and_feeds_the_class_token():
    torch.manual_seed(0)
    ffn = DynamicAggregationFFN(dim=8, hidden=16).eval()
    x = torch.randn(1, 1 + 16, 8, requires_grad=True)
    ffn(x)[0, 0].sum().backward()
    assert x.grad[0, 1:].abs().sum() > 0  # the class token aggregates the patch tokens
    assert DHVTBlock(8, 2, 16)(x.detach()).shape == x.shape


def test_sequential_overlapping_patch_embed():
    embed = SequentialOverlappingPatchEmbed(3, 16, patch=4)
    assert embed(torch.randn(2, 3, 32, 32)).shape == (2, 64, 16)
    with pytest.raises(ConfigError, match="power of two"):
        SequentialOverlappingPatchEmbed(3, 16, patch=3)
