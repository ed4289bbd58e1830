"""Vision token-mixing layers (patch, mixing, raft, strip, shift, spectrum) against slow references."""

import numpy as np
import pytest
import scipy.fft
import torch
from torch.nn import functional as F

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mixing import MixerBlock, TokenMLP
from mlpzoo.layers.patch import MultiScalePatchEmbed, PatchEmbed
from mlpzoo.layers.raft import RaftBlock, RaftTokenMixing
from mlpzoo.layers.shift import MixShift, MixShiftBlock, group_shifts
from mlpzoo.layers.spectrum import DynamicSpectrumBlock, DynamicSpectrumMixing, dct2, dct_matrix, idct2
from mlpzoo.layers.strip import CascadeGroupStripMixing, LocalStripMixing, StripBlock, StripMLPLayer


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def test_patch_embeddings():
    x = torch.randn(2, 3, 8, 8)
    embed = PatchEmbed(3, 5, 4)
    out = embed(x)
    ref = torch.einsum("bchpwq,dcpq->bhwd", x.view(2, 3, 2, 4, 2, 4), embed.proj.weight) + embed.proj.bias
    assert out.shape == (2, 2, 2, 5) and torch.allclose(out, ref, atol=1e-5)
    multi = MultiScalePatchEmbed(3, 5, 2, scales=(1, 2))
    out = multi(x)
    # Reference: concatenate the 2x2 cell and the centred 4x4 window (zero padded), then one linear map.
    padded = F.pad(x, (1, 1, 1, 1))
    w1, w2 = multi.projs[0].weight, multi.projs[1].weight
    for i, j in [(0, 0), (1, 2), (3, 3)]:
        small = x[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
        large = padded[:, :, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4]
        features = torch.cat([small.flatten(1), large.flatten(1)], 1)
        weight = torch.cat([w1.flatten(1), w2.flatten(1)], 1)
        assert torch.allclose(out[:, i, j], features @ weight.T + multi.projs[0].bias, atol=1e-5)
    with pytest.raises(ConfigError, match="4 channels but the model was built with in_chans=3"):
        embed(torch.randn(1, 4, 8, 8))
    with pytest.raises(ConfigError, match="not a multiple of the patch size 4"):
        embed(torch.randn(1, 3, 10, 8))


def test_token_mlp_matches_per_channel_loop():
    mlp = TokenMLP(6, 7)
    x = torch.randn(2, 2, 3, 4)
    out = mlp(x)
    for c in range(4):
        assert torch.allclose(out[..., c].reshape(2, 6), mlp.mlp(x[..., c].reshape(2, 6)), atol=1e-6)


def _axis_mlp(mlp, v):
    return mlp.fc2(F.gelu(mlp.fc1(v)))


def test_raft_mixing_matches_loop_reference():
    mixing = RaftTokenMixing(dim=6, height=3, width=4, raft_size=2)
    x = torch.randn(2, 3, 4, 6)
    out = mixing(x)
    y = x.clone()
    v = mixing.norm_v(y)
    mid = y.clone()
    for col in range(4):
        for raft in range(3):
            chans = slice(2 * raft, 2 * raft + 2)
            values = v[:, :, col, chans].permute(0, 2, 1).reshape(2, 6)  # raft channel major, then rows
            mid[:, :, col, chans] += _axis_mlp(mixing.vertical, values).view(2, 2, 3).permute(0, 2, 1)
    h = mixing.norm_h(mid)
    ref = mid.clone()
    for row in range(3):
        for raft in range(3):
            chans = slice(2 * raft, 2 * raft + 2)
            values = h[:, row, :, chans].permute(0, 2, 1).reshape(2, 8)
            ref[:, row, :, chans] += _axis_mlp(mixing.horizontal, values).view(2, 2, 4).permute(0, 2, 1)
    assert torch.allclose(out, ref, atol=1e-5)


def test_raft_bicubic_resampling_of_position_weights():
    mixing = RaftTokenMixing(dim=4, height=4, width=4, raft_size=2)
    w1, b1, w2, b2 = mixing.vertical.weights(4)
    assert w1 is mixing.vertical.fc1.weight  # trained size: the weights themselves
    w1, b1, w2, b2 = mixing.vertical.weights(8)
    assert w1.shape == (16, 16) and w2.shape == (16, 16) and b2.shape == (16,)
    # A constant position profile stays constant (scaled by 4/8 on the input side).
    mlp = mixing.vertical
    with torch.no_grad():
        mlp.fc1.weight.copy_(torch.arange(16.0).view(16, 1, 1).expand(16, 2, 4).reshape(16, 8))
    assert torch.allclose(mlp.weights(8)[0].view(16, 2, 8), (torch.arange(16.0) / 2).view(16, 1, 1).expand(16, 2, 8))
    assert mixing(torch.randn(1, 6, 8, 4)).shape == (1, 6, 8, 4)
    with pytest.raises(ConfigError, match="multiple of raft_size"):
        RaftTokenMixing(5, 4, 4, raft_size=2)


def test_strip_mlp_layer_matches_loop():
    layer = StripMLPLayer(length=4, axis="w", strip_width=3)
    x = torch.randn(2, 5, 4, 3)
    out = layer(x)
    weight, bias = layer.mix.weight[..., 0], layer.mix.bias  # (W_out, W_in, strip)
    padded = F.pad(x, (0, 0, 0, 0, 1, 1))  # zero rows above and below
    for h in range(5):
        strip = padded[:, h : h + 3]  # (B, 3, W, C)
        ref = torch.einsum("oik,bkic->boc", weight, strip) + bias.view(1, -1, 1)
        assert torch.allclose(out[:, h], ref, atol=1e-5)
    column = StripMLPLayer(length=5, axis="h")
    assert torch.allclose(column(x), column._along_w(x.transpose(1, 2)).transpose(1, 2))


def test_cascade_groups_feed_forward():
    module = CascadeGroupStripMixing(dim=4, length=3, axis="w", groups=2)
    x = torch.randn(1, 2, 3, 4)
    out = module(x)
    first = module.strips[0](x[..., :2])
    assert torch.allclose(out[..., :2], first, atol=1e-6)
    assert torch.allclose(out[..., 2:], module.strips[1](x[..., 2:] + first), atol=1e-6)
    local = LocalStripMixing(4, 3)
    assert local(x).shape == x.shape


def test_mix_shift_equals_mixing_then_shifting():
    dim, groups, length = 10, 5, 7
    module = MixShift(dim, "h", groups)
    x = torch.randn(2, length, 3, dim)
    out = module(x)
    shifts = group_shifts(groups)
    assert shifts == [-2, -1, 0, 1, 2]
    weight = module.weight * module.mask
    reach = module.taps // 2
    start = 0
    for size, s in zip(module.group_sizes, shifts):
        for c in range(start, start + size):
            k = abs(s)
            taps = weight[c, reach - s - k : reach - s + k + 1]  # the group's 2|s|+1 mixing kernel
            assert int((weight[c] != 0).sum()) <= 2 * k + 1
            padded = F.pad(x[..., c].transpose(1, 2), (3 * reach, 3 * reach))  # (B, W, H + pad)
            mixed = sum(taps[j] * padded[..., j : j + padded.shape[-1] - 2 * k] for j in range(2 * k + 1))
            # mixed[i] is centred on padded index i + k; shift by s: out[i] = mixed at original i - s.
            ref = mixed[..., 3 * reach - k - s : 3 * reach - k - s + length] + module.bias[c]
            assert torch.allclose(out[..., c].transpose(1, 2), ref, atol=1e-5)
        start += size
    along_w = MixShift(dim, "w", groups)
    assert along_w(x).shape == x.shape


def test_dct_matches_scipy():
    x = torch.randn(2, 5, 6, 3, dtype=torch.float64)
    dh, dw = dct_matrix(5, torch.float64), dct_matrix(6, torch.float64)
    ref = scipy.fft.dctn(x.numpy(), type=2, axes=(1, 2), norm="ortho")
    assert np.allclose(dct2(x, dh, dw).numpy(), ref)
    assert torch.allclose(idct2(dct2(x, dh, dw), dh, dw), x)


def test_dynamic_spectrum_weights_depend_on_content():
    mixing = DynamicSpectrumMixing(dim=8, height=4, width=4, num_bases=3)
    x = torch.randn(2, 4, 4, 8)
    weights = mixing.spectrum_weights(x)
    assert weights.shape == (2, 4, 4, 8) and not torch.allclose(weights[0], weights[1])
    spectrum = torch.from_numpy(scipy.fft.dctn(x.detach().numpy(), axes=(1, 2), norm="ortho")) * weights
    ref = mixing.proj(torch.from_numpy(scipy.fft.idctn(spectrum.detach().numpy(), axes=(1, 2), norm="ortho")).float())
    assert torch.allclose(mixing(x), ref, atol=1e-5)


@pytest.mark.parametrize(
    "block",
    [
        lambda: MixerBlock(16, 8, 6, 16),
        lambda: RaftBlock(8, 4, 4, 2, 2.0, 16),
        lambda: StripBlock(8, 4, 4, 16, groups=2),
        lambda: MixShiftBlock(8, 16, groups=3),
        lambda: DynamicSpectrumBlock(8, 4, 4, 16, num_bases=2),
    ],
    ids=["mixer", "raft", "strip", "mix_shift", "spectrum"],
)
def test_blocks_shapes_and_gradients(block):
    module = block()
    x = torch.randn(2, 4, 4, 8, requires_grad=True)
    out = module(x)
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    missing = [n for n, p in module.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing
