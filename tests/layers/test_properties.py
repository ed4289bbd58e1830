"""Property tests (hypothesis) on the layers: shapes, finiteness and batch independence.

For random valid sizes every layer must (1) give the documented output shape, (2) give finite
outputs and gradients for finite inputs, and (3) in eval mode, give each sample the same output
whether it is alone or inside a batch (none of these layers mixes samples: batch norm and Dice
use running statistics in eval mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpzoo.layers import kan
from mlpzoo.layers.attention import SelfAttention, TransformerBlock
from mlpzoo.layers.fields import FieldEmbedding
from mlpzoo.layers.fusion import BilinearFusion
from mlpzoo.layers.gating import FeatureGating
from mlpzoo.layers.hourglass import ResidualMLPBlock
from mlpzoo.layers.interaction import CrossNetwork, CrossNetworkV2, FactorizationMachine
from mlpzoo.layers.interest import LocalActivationUnit
from mlpzoo.layers.mixing import MixerBlock
from mlpzoo.layers.mlp import MLP
from mlpzoo.layers.patch import MultiScalePatchEmbed, PatchEmbed
from mlpzoo.layers.raft import RaftBlock
from mlpzoo.layers.shift import MixShiftBlock
from mlpzoo.layers.spectrum import DynamicSpectrumBlock
from mlpzoo.layers.strip import StripBlock

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
small = st.integers(1, 6)
batch_sizes = st.integers(2, 5)


@dataclass
class Drawn:
    """A built layer, its inputs (a batch of ``batch`` samples) and the output shape it must give."""

    module: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]
    shape: tuple[int, ...]
    batch: int


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


def seeded(draw) -> torch.Generator:
    seed = draw(st.integers(0, 2**16))
    torch.manual_seed(seed)  # parameter initialisation
    return gen(seed + 1)  # inputs


scales = st.sampled_from([0.1, 1.0, 10.0])


@st.composite
def mlp(draw):
    g = seeded(draw)
    b, d = draw(batch_sizes), draw(small)
    hidden = tuple(draw(st.lists(small, max_size=3)))
    out = draw(st.one_of(st.none(), small))
    act = draw(st.sampled_from(["relu", "prelu", "dice", "gelu", "silu"]))
    module = MLP(d, hidden, out, act, dropout=draw(st.sampled_from([0.0, 0.5])), batch_norm=draw(st.booleans()))
    width = out if out is not None else (hidden[-1] if hidden else d)
    return Drawn(module, (randn(g, b, d, scale=draw(scales)),), (b, width), b)


@st.composite
def field_embedding(draw):
    g = seeded(draw)
    b = draw(batch_sizes)
    sizes = draw(st.lists(st.integers(2, 7), min_size=1, max_size=4))
    dim = draw(small)
    ids = torch.stack([torch.randint(0, s, (b,), generator=g) for s in sizes], dim=1)
    return Drawn(FieldEmbedding(sizes, dim), (ids,), (b, len(sizes), dim), b)


@st.composite
def feature_gating(draw):
    g = seeded(draw)
    b, feature, context = draw(batch_sizes), draw(small), draw(st.integers(0, 5))
    module = FeatureGating(feature, context, tuple(draw(st.lists(small, min_size=1, max_size=2))), bias_dim=draw(small))
    inputs = (randn(g, b, feature),) + ((randn(g, b, context),) if context else ())
    return Drawn(module, inputs, (b, feature), b)


@st.composite
def bilinear_fusion(draw):
    g = seeded(draw)
    b, heads = draw(batch_sizes), draw(st.integers(1, 3))
    d1, d2, out = heads * draw(small), heads * draw(small), draw(st.integers(1, 3))
    return Drawn(BilinearFusion(d1, d2, heads, out), (randn(g, b, d1), randn(g, b, d2)), (b, out), b)


@st.composite
def cross_network(draw):
    g = seeded(draw)
    b, d, layers = draw(batch_sizes), draw(small), draw(st.integers(0, 3))
    cls = draw(st.sampled_from([CrossNetwork, CrossNetworkV2]))
    return Drawn(cls(d, layers), (randn(g, b, d, scale=draw(st.sampled_from([0.1, 1.0]))),), (b, d), b)


@st.composite
def factorization_machine(draw):
    g = seeded(draw)
    b, f, d = draw(batch_sizes), draw(small), draw(small)
    return Drawn(FactorizationMachine(), (randn(g, b, f, d, scale=draw(scales)),), (b, 1), b)


@st.composite
def local_activation_unit(draw):
    g = seeded(draw)
    b, length, d = draw(batch_sizes), draw(small), draw(small)
    module = LocalActivationUnit(
        d,
        tuple(draw(st.lists(small, min_size=1, max_size=2))),
        draw(st.sampled_from(["dice", "prelu"])),
        draw(st.booleans()),
    )
    mask = torch.rand(b, length, generator=g) < 0.6
    mask[:, -1] |= draw(st.booleans())  # sometimes every row has a behaviour, sometimes rows are empty
    return Drawn(module, (randn(g, b, d), randn(g, b, length, d), mask), (b, d), b)


KAN_LAYERS = {
    "bspline": lambda i, o, draw: kan.BSplineKANLinear(
        i, o, grid_size=draw(st.integers(1, 6)), spline_order=draw(st.integers(1, 3))
    ),
    "rbf": lambda i, o, draw: kan.RBFKANLinear(i, o, num_centers=draw(st.integers(2, 8))),
    "relu_kan": lambda i, o, draw: kan.ReLUKANLinear(
        i, o, grid_size=draw(st.integers(1, 6)), spline_order=draw(st.integers(1, 3))
    ),
    "af_kan": lambda i, o, draw: kan.AFKANLinear(i, o),
    "selectable": lambda i, o, draw: kan.SelectableKANLinear(i, o, grid_size=draw(st.integers(2, 5))),
}


@st.composite
def kan_layer(draw, kind: str):
    g = seeded(draw)
    b, i, o = draw(batch_sizes), draw(small), draw(small)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))  # KAN layers accept (..., in)
    if kind == "grkan":
        groups = draw(st.integers(1, 3))
        module = kan.GRKANLinear(groups * i, o, groups=groups)
        i = groups * i
    else:
        module = KAN_LAYERS[kind](i, o, draw)
    return Drawn(module, (randn(g, b, *lead, i, scale=draw(scales)),), (b, *lead, o), b)


@st.composite
def vision_block(draw, kind: str):
    g = seeded(draw)
    b, h, w = draw(batch_sizes), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    hidden = draw(small)
    if kind == "mixer":
        dim = draw(small)
        module = MixerBlock(h * w, dim, draw(small), hidden)
    elif kind == "raft":
        raft = draw(st.integers(1, 3))
        dim = raft * draw(st.integers(1, 3))
        module = RaftBlock(dim, h, w, raft, draw(st.sampled_from([1.0, 2.0])), hidden)
    elif kind == "strip":
        groups = draw(st.integers(1, 3))
        dim = groups * draw(st.integers(1, 3))
        module = StripBlock(dim, h, w, hidden, groups, draw(st.sampled_from([1, 3])))
    elif kind == "shift":
        groups = draw(st.integers(1, 5))
        dim = groups + draw(st.integers(0, 4))
        module = MixShiftBlock(dim, hidden, groups)
    elif kind == "spectrum":
        dim = 4 * draw(st.integers(1, 2))
        module = DynamicSpectrumBlock(dim, h, w, hidden, draw(st.integers(1, 3)))
    elif kind == "residual_mlp":
        dim = draw(small)
        return Drawn(ResidualMLPBlock(dim, hidden), (randn(g, b, dim),), (b, dim), b)
    else:
        heads = draw(st.integers(1, 3))
        dim, tokens = heads * draw(st.integers(1, 3)), h * w
        similarity = draw(st.sampled_from(["separate", "collapsed"]))
        module = (
            SelfAttention(dim, heads, similarity) if kind == "attention" else TransformerBlock(dim, heads, similarity)
        )
        return Drawn(module, (randn(g, b, tokens, dim),), (b, tokens, dim), b)
    return Drawn(module, (randn(g, b, h, w, dim),), (b, h, w, dim), b)


@st.composite
def patch_embed(draw):
    g = seeded(draw)
    b, chans, dim, patch = draw(batch_sizes), draw(st.integers(1, 3)), draw(small), draw(st.sampled_from([1, 2, 4]))
    gh, gw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if draw(st.booleans()):
        module = PatchEmbed(chans, dim, patch)
    else:
        scales = (1, 3) if patch % 2 else (1, 2)
        module = MultiScalePatchEmbed(chans, dim, patch, scales)
    return Drawn(module, (randn(g, b, chans, gh * patch, gw * patch),), (b, gh, gw, dim), b)


LAYERS: dict[str, Callable[[], st.SearchStrategy[Drawn]]] = {
    "mlp": mlp,
    "field_embedding": field_embedding,
    "feature_gating": feature_gating,
    "bilinear_fusion": bilinear_fusion,
    "cross_network": cross_network,
    "factorization_machine": factorization_machine,
    "local_activation_unit": local_activation_unit,
    **{f"kan_{kind}": (lambda kind=kind: kan_layer(kind)) for kind in [*KAN_LAYERS, "grkan"]},
    **{
        f"vision_{kind}": (lambda kind=kind: vision_block(kind))
        for kind in ["mixer", "raft", "strip", "shift", "spectrum", "residual_mlp", "attention", "transformer"]
    },
    "patch_embed": patch_embed,
}


def _run(drawn: Drawn, train: bool) -> torch.Tensor:
    drawn.module.train(train)
    return drawn.module(*drawn.inputs)


@pytest.mark.parametrize("name", list(LAYERS))
def test_shape_and_finite(name):
    @SETTINGS
    @given(LAYERS[name]())
    def check(drawn: Drawn):
        inputs = [x.requires_grad_() if x.is_floating_point() else x for x in drawn.inputs]
        drawn = Drawn(drawn.module, tuple(inputs), drawn.shape, drawn.batch)
        out = _run(drawn, train=True)
        assert tuple(out.shape) == drawn.shape
        assert torch.isfinite(out).all(), f"{name} gave non-finite outputs for finite inputs"
        out.square().mean().backward()
        grads = [x.grad for x in inputs if x.is_floating_point()] + [
            p.grad for p in drawn.module.parameters() if p.grad is not None
        ]
        assert all(torch.isfinite(grad).all() for grad in grads), f"{name} gave non-finite gradients"
        assert tuple(_run(drawn, train=False).shape) == drawn.shape

    check()


@pytest.mark.parametrize("name", list(LAYERS))
def test_batch_independence_in_eval_mode(name):
    @SETTINGS
    @given(LAYERS[name](), st.data())
    def check(drawn: Drawn, data):
        with torch.no_grad():
            full = _run(drawn, train=False)
            i = data.draw(st.integers(0, drawn.batch - 1))
            alone = drawn.module(*(x[i : i + 1] for x in drawn.inputs))
            torch.testing.assert_close(alone[0], full[i], rtol=1e-4, atol=1e-5)
            # Changing every other sample leaves sample i unchanged.
            others = [x.clone() for x in drawn.inputs]
            for x in others:
                rest = torch.ones(drawn.batch, dtype=torch.bool)
                rest[i] = False
                x[rest] = x[rest].flip(0) if x.dtype == torch.bool or not x.is_floating_point() else x[rest] * 2 + 1
            torch.testing.assert_close(drawn.module(*others)[i], full[i], rtol=1e-4, atol=1e-5)

    check()
