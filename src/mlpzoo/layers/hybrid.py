"""Blocks of the vision hybrids that put an MLP at the centre of a conv or attention network.

- NiNformer (Abdullah and Aydin, 2024, arXiv:2403.02411): :class:`NiNBlock`, a network in network whose
  inner MLP-Mixer generates an element-wise gate for the outer token-wise projection.
- SpaRTAN (Pay et al., 2025, arXiv:2507.10999): :class:`MultiOrderSpatial` (depth-wise kernels whose
  receptive field is set by kernel size and dilation) and :class:`WaveChannelAggregation` (channels
  aggregated as waves: amplitude times the cosine and sine of a learned phase), in :class:`SpaRTANBlock`.
- The ConvNeXt-style inverted bottleneck (Liu et al., "A ConvNet for the 2020s", CVPR 2022,
  arXiv:2201.03545): :class:`InvertedBottleneckBlock`, SpaRTAN's high-expansion MLP-block baseline.
- EfficientMod (Ma et al., ICLR 2024, arXiv:2403.19963): :class:`EfficientModulation` (a context branch
  FC -> depth-wise conv -> GELU times a projection branch, fused by an element-wise product, then
  projected), :class:`EfficientModBlock`, and :class:`GridAttentionBlock` for the hybrid's attention stages.
- DHVT (Lu et al., NeurIPS 2022, arXiv:2210.05958): :class:`SequentialOverlappingPatchEmbed` (convolutional
  patch embedding), :class:`DynamicAggregationFFN` (a depth-wise conv inside the MLP and a squeeze-excitation
  that re-calibrates channels and aggregates into the class token) and :class:`HeadInteractionAttention`
  (one "head token" per channel group joins the multi-head self-attention).

Conv-net blocks take and return channels-last grids ``(B, H, W, C)``, as the blocks of :mod:`mixing` do;
DHVT's take token sequences ``(B, 1 + N, C)`` with the class token first.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.attention import SelfAttention, TransformerBlock
from mlpzoo.layers.mixing import MixerBlock, channel_mlp

__all__ = [
    "Downsample",
    "DynamicAggregationFFN",
    "EfficientModBlock",
    "EfficientModulation",
    "GridAttentionBlock",
    "HeadInteractionAttention",
    "DHVTBlock",
    "InvertedBottleneckBlock",
    "LayerScale",
    "MultiOrderSpatial",
    "NiNBlock",
    "SequentialOverlappingPatchEmbed",
    "SpaRTANBlock",
    "WaveChannelAggregation",
]


def _channels_first(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


def _check_positive(where: str, **sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{where}: {name}={value!r} must be a positive integer")


class LayerScale(nn.Module):
    """A learned per-channel scale on a residual branch, initialised small so deep stacks start close to the identity.

    Touvron et al. (CaiT, ICCV 2021, arXiv:2103.17239) size the initial value by depth: 0.1 up to 18 blocks, 1e-5 up
    to 24, 1e-6 beyond (ConvNeXt's ImageNet value). The claims' CIFAR-size networks have at most 18 blocks, hence 0.1
    (a smaller value keeps the blocks nearly silent through the few hundred steps of a CPU budget).
    """

    def __init__(self, dim: int, init: float = 0.1):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


# ----------------------------------------------------------------------------------------------- NiNformer
class NiNBlock(nn.Module):
    """NiNformer's block on a channels-last token grid ``(B, h, w, dim)``.

    The outer network replaces self-attention by ``x + W_v LN(x) * G(LN(x))``: a token-wise projection gated
    element-wise by ``G``, the inner network, an MLP-Mixer block (token MLP then channel MLP) whose output is the
    dynamic gate. The attention sub-block of ViT becomes this gated unit; the channel MLP follows, pre-norm with a
    residual, as in ViT. ``gate_hidden`` is the inner Mixer's channel-MLP width.
    """

    def __init__(self, num_tokens: int, dim: int, token_hidden: int, channel_hidden: int, gate_hidden: int):
        super().__init__()
        _check_positive("NiNBlock", num_tokens=num_tokens, dim=dim, token_hidden=token_hidden)
        self.norm1 = nn.LayerNorm(dim)
        self.gate = MixerBlock(num_tokens, dim, token_hidden, gate_hidden)
        self.value = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = channel_mlp(dim, channel_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.norm1(x)
        x = x + self.value(u) * self.gate(u)
        return x + self.mlp(self.norm2(x))


# ------------------------------------------------------------------------------------ conv-net scaffolding
class Downsample(nn.Module):
    """Between stages: LayerNorm, then a 2 x 2 convolution with stride 2 (ConvNeXt's downsampling layer)."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv2d(dim, out_dim, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _channels_last(self.conv(_channels_first(self.norm(x))))


class InvertedBottleneckBlock(nn.Module):
    """ConvNeXt's block: 7 x 7 depth-wise conv, LayerNorm, the MLP ``dim -> hidden -> dim`` (4 x expansion in
    ConvNeXt), layer scale and a residual. The MLP block whose redundancy SpaRTAN targets."""

    def __init__(self, dim: int, hidden: int, kernel: int = 7):
        super().__init__()
        _check_positive("InvertedBottleneckBlock", dim=dim, hidden=hidden)
        self.dwconv = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = channel_mlp(dim, hidden)
        self.scale = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _channels_last(self.dwconv(_channels_first(x)))
        return x + self.scale(self.mlp(self.norm(y)))


# ------------------------------------------------------------------------------------------------- SpaRTAN
class MultiOrderSpatial(nn.Module):
    """SpaRTAN's multi-order spatial module on channels-last grids.

    A value projection ``v = W_v x`` is modulated by a context built from depth-wise kernels of growing receptive
    field: one ``(kernel, dilation)`` pair per channel group (default 3 x 3 / dilation 1, 5 x 5 / 2, 7 x 7 / 3:
    receptive fields 3, 9 and 19 pixels), applied after a shared depth-wise 5 x 5 conv, mixed by a 1 x 1 conv and
    gated by SiLU. ``out = W_o (SiLU(W_g x) * ctx) `` with ``ctx = W_c [dw_k,d(dw_5 v)]_groups``.
    """

    def __init__(self, dim: int, orders: Sequence[tuple[int, int]] = ((3, 1), (5, 2), (7, 3))):
        super().__init__()
        _check_positive("MultiOrderSpatial", dim=dim)
        if not orders or dim < len(orders):
            raise ConfigError(f"MultiOrderSpatial: dim={dim} must be at least the number of orders ({len(orders)})")
        base, extra = divmod(dim, len(orders))
        self.splits = [base + (i < extra) for i in range(len(orders))]
        self.value = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)
        self.local = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.orders = nn.ModuleList(
            nn.Conv2d(c, c, k, padding=d * (k - 1) // 2, dilation=d, groups=c) for c, (k, d) in zip(self.splits, orders)
        )
        self.mix = nn.Conv2d(dim, dim, 1)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.local(_channels_first(self.value(x)))
        parts = [conv(part) for conv, part in zip(self.orders, v.split(self.splits, dim=1))]
        context = _channels_last(self.mix(torch.cat(parts, dim=1)))
        return self.out(nn.functional.silu(self.gate(x)) * context)


class WaveChannelAggregation(nn.Module):
    """SpaRTAN's wave-based channel aggregation (our reading of the abstract, after Wave-MLP's phase-aware mixing).

    Each hidden channel is a wave with amplitude ``a = GELU(dw3(W_1 x))`` and a phase ``theta = W_theta x``
    predicted from the input; channels are aggregated from its real and imaginary parts,
    ``W_r (a cos theta) + W_i (a sin theta)``, so the phase modulates how pixels' channels reinforce or cancel.
    A low expansion (``hidden`` about 2 x ``dim``) is the point: the paper argues MLP blocks need high expansion
    only because of channel redundancy.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        _check_positive("WaveChannelAggregation", dim=dim, hidden=hidden)
        self.amplitude = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.phase = nn.Linear(dim, hidden)
        self.real = nn.Linear(hidden, dim)
        self.imag = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = nn.functional.gelu(_channels_last(self.dwconv(_channels_first(self.amplitude(x)))))
        theta = self.phase(x)
        return self.real(a * torch.cos(theta)) + self.imag(a * torch.sin(theta))


class SpaRTANBlock(nn.Module):
    """``x + s1 MOS(LN x)``, then ``x + s2 WCA(LN x)``: the spatial then the channel module, each pre-norm with
    layer scale and a residual."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm1, self.spatial, self.scale1 = nn.LayerNorm(dim), MultiOrderSpatial(dim), LayerScale(dim)
        self.norm2, self.channel, self.scale2 = nn.LayerNorm(dim), WaveChannelAggregation(dim, hidden), LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.scale1(self.spatial(self.norm1(x)))
        return x + self.scale2(self.channel(self.norm2(x)))


# --------------------------------------------------------------------------------------------- EfficientMod
class EfficientModulation(nn.Module):
    """EfficientMod's modulation on channels-last grids: ``W_o (ctx(x) * V(x))`` with the context
    ``ctx = GELU(dwconv_k(W_c x))`` and the projection ``V = W_v x``, both of width ``hidden``.

    The paper folds the MLP into the modulation by expanding ``V`` (and the context) to ``hidden = ratio x dim``,
    which is what ``hidden`` sets.
    """

    def __init__(self, dim: int, hidden: int, kernel: int = 7):
        super().__init__()
        _check_positive("EfficientModulation", dim=dim, hidden=hidden, kernel=kernel)
        self.context_fc = nn.Linear(dim, hidden)
        self.context_conv = nn.Conv2d(hidden, hidden, kernel, padding=kernel // 2, groups=hidden)
        self.value = nn.Linear(dim, hidden)
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = nn.functional.gelu(_channels_last(self.context_conv(_channels_first(self.context_fc(x)))))
        return self.out(context * self.value(x))


class EfficientModBlock(nn.Module):
    """``x + s1 Mod(LN x)``, then (when ``mlp_hidden``) ``x + s2 MLP(LN x)``: EfficientMod's conv block."""

    def __init__(self, dim: int, hidden: int, mlp_hidden: int = 0, kernel: int = 7):
        super().__init__()
        self.norm1, self.mod, self.scale1 = nn.LayerNorm(dim), EfficientModulation(dim, hidden, kernel), LayerScale(dim)
        self.mlp = channel_mlp(dim, mlp_hidden) if mlp_hidden else None
        if self.mlp is not None:
            self.norm2, self.scale2 = nn.LayerNorm(dim), LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.scale1(self.mod(self.norm1(x)))
        return x + self.scale2(self.mlp(self.norm2(x))) if self.mlp is not None else x


class GridAttentionBlock(nn.Module):
    """A vanilla ViT block (:class:`~mlpzoo.layers.attention.TransformerBlock`) over the ``h * w`` positions of a
    channels-last grid: the attention of EfficientMod's hybrid, used in its last, low-resolution stages."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.block = TransformerBlock(dim, heads, mlp_ratio=mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        return self.block(x.reshape(b, h * w, c)).reshape(b, h, w, c)


# ----------------------------------------------------------------------------------------------------- DHVT
class _Affine(nn.Module):
    """``alpha * x + beta`` per channel (channels-first): DHVT's re-scaling around its patch embedding."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * x + self.beta


class SequentialOverlappingPatchEmbed(nn.Module):
    """DHVT's SOPE: ``log2(patch)`` overlapping 3 x 3 convolutions of stride 2 (BatchNorm, GELU between), with an
    affine re-scaling before and after; images ``(B, C, H, W)`` -> tokens ``(B, H/p * W/p, dim)``. Overlap gives
    each token its neighbours' pixels, and with them the position information ViT's embedding table carries."""

    def __init__(self, in_chans: int, dim: int, patch: int):
        super().__init__()
        _check_positive("SequentialOverlappingPatchEmbed", in_chans=in_chans, dim=dim, patch=patch)
        steps = patch.bit_length() - 1
        if patch < 2 or 2**steps != patch:
            raise ConfigError(f"SequentialOverlappingPatchEmbed: patch={patch} must be a power of two >= 2 (2, 4, 8)")
        widths = [in_chans] + [max(1, dim // 2 ** (steps - 1 - i)) for i in range(steps)]
        layers: list[nn.Module] = []
        for i in range(steps):
            layers += [nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1), nn.BatchNorm2d(widths[i + 1])]
            if i < steps - 1:
                layers.append(nn.GELU())
        self.pre, self.convs, self.post = _Affine(in_chans), nn.Sequential(*layers), _Affine(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.convs(self.pre(x))).flatten(2).transpose(1, 2)


class HeadInteractionAttention(nn.Module):
    """DHVT's head-interacting multi-head self-attention over ``(B, 1 + N, dim)`` (class token first).

    The patch tokens' mean is cut into ``heads`` channel groups; each group is lifted to a full-width "head token"
    (``GELU(W_h g)``, one shared ``W_h``). Head tokens join the sequence for one multi-head self-attention, so every
    channel group's summary talks to every token; afterwards their outputs are averaged into the class token and
    dropped.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if heads < 1 or dim % heads:
            raise ConfigError(f"HeadInteractionAttention: heads={heads} must be at least 1 and divide dim={dim}")
        self.heads = heads
        self.head_token = nn.Linear(dim // heads, dim)
        self.attention = SelfAttention(dim, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        groups = x[:, 1:].mean(dim=1).reshape(b, self.heads, c // self.heads)
        tokens = torch.cat([x, nn.functional.gelu(self.head_token(groups))], dim=1)
        mixed = self.attention(tokens)
        out, head_out = mixed[:, :n], mixed[:, n:]
        return torch.cat([out[:, :1] + head_out.mean(dim=1, keepdim=True), out[:, 1:]], dim=1)


class DynamicAggregationFFN(nn.Module):
    """DHVT's DAFF over ``(B, 1 + N, dim)`` with the ``N`` patch tokens on a ``grid x grid`` square.

    ``W_1`` lifts every token to ``hidden``; the patch tokens then pass a 3 x 3 depth-wise conv (with a residual,
    BatchNorm and GELU: the conv inside the MLP) and ``W_2`` projects every token back. A squeeze-excitation of the
    patch tokens' mean (reduction 4) re-weights their channels (channel re-calibration), and the class token
    takes the re-weighted patch mean as its aggregate.
    """

    def __init__(self, dim: int, hidden: int, reduction: int = 4):
        super().__init__()
        _check_positive("DynamicAggregationFFN", dim=dim, hidden=hidden, reduction=reduction)
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.bn = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Linear(hidden, dim)
        squeezed = max(1, dim // reduction)
        self.squeeze, self.excite = nn.Linear(dim, squeezed), nn.Linear(squeezed, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        grid = round((n - 1) ** 0.5)
        h = nn.functional.gelu(self.fc1(x))
        grid_map = h[:, 1:].transpose(1, 2).reshape(b, -1, grid, grid)
        grid_map = nn.functional.gelu(self.bn(grid_map + self.dwconv(grid_map)))
        y = self.fc2(torch.cat([h[:, :1], grid_map.flatten(2).transpose(1, 2)], dim=1))
        cls, patches = y[:, :1], y[:, 1:]
        weights = torch.sigmoid(self.excite(nn.functional.gelu(self.squeeze(patches.mean(dim=1, keepdim=True)))))
        patches = patches * weights
        return torch.cat([cls + patches.mean(dim=1, keepdim=True), patches], dim=1)


class DHVTBlock(nn.Module):
    """``x + HI-MHSA(LN x)``, then ``x + DAFF(LN x)``: DHVT's transformer block."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(dim), HeadInteractionAttention(dim, heads)
        self.norm2, self.ffn = nn.LayerNorm(dim), DynamicAggregationFFN(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.ffn(self.norm2(x))
