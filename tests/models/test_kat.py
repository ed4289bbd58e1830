"""KAT (arXiv:2409.10594) and its ViT baseline: shapes, gradients, parameter match, attention, errors."""

import math

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan import GRKANLinear
from mlpzoo.measure import count_parameters
from mlpzoo.models.kat import GRKANMlp, VisionTransformer
from mlpzoo.registry import model_entry

TINY = {"embed_dim": 16, "depth": 2, "num_heads": 2}


@pytest.mark.parametrize("name", ["kat", "kat_vit"])
def test_registered_defaults_classify_cifar_batches(name):
    entry = model_entry(name)
    assert entry.family == "vision" and entry.paper == "kat"
    model = create_model(name)
    x = torch.randn(2, 3, 32, 32)
    out = model({"x": x, "label": torch.zeros(2, dtype=torch.long)})
    assert out.shape == (2, 10)
    assert torch.equal(out, model(x))  # a bare tensor works too
    assert model.forward_features(x).shape == (2, 1 + 64, 96)


def test_default_sizes_match_in_parameters():
    kat, vit = create_model("kat"), create_model("kat_vit")
    n_kat, n_vit = count_parameters(kat), count_parameters(vit)
    # Only the rationals' coefficients differ: two GR-KAN layers, 8 groups, 6 + 4 coefficients, per block.
    assert n_kat - n_vit == 6 * 2 * 8 * 10
    assert abs(n_kat - n_vit) / n_vit < 0.01


@pytest.mark.parametrize("mixer", ["gelu", "grkan"])
def test_every_parameter_gets_a_finite_gradient(mixer):
    torch.manual_seed(0)
    model = VisionTransformer(img_size=16, patch_size=4, num_classes=3, mixer=mixer, **TINY)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 16, 16)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name != "cls_token":  # the class token starts at ~1e-6 but still gets a gradient
            assert p.grad.abs().sum() > 0, name


def test_kat_mixer_starts_as_identity_then_gelu_rational_with_variance_preserving_linears():
    torch.manual_seed(2)
    mlp = GRKANMlp(16, 64, groups=8)
    x = torch.randn(3, 16)
    torch.testing.assert_close(mlp.fc1.rational(x), x)  # identity init is exact
    h = torch.linspace(-2, 2, 64).repeat(3, 1)
    torch.testing.assert_close(mlp.fc2.rational(h), torch.nn.functional.gelu(h), atol=0.02, rtol=0)
    model = VisionTransformer(mixer="grkan", **TINY)
    for module in model.modules():
        if isinstance(module, GRKANLinear):
            expected = math.sqrt(1.0 / (module.in_features * module.second_moment))
            assert abs(module.linear.weight.std().item() / expected - 1) < 0.1
    # Everything else keeps the ViT init (truncated normal, std 0.02).
    assert abs(model.blocks[0].attn.query.weight.std().item() - 0.02) < 0.004


def test_wrong_image_size_or_channels_is_a_one_line_error():
    model = create_model("kat", **TINY)
    for bad in (torch.randn(2, 3, 28, 28), torch.randn(2, 1, 32, 32), torch.randn(3, 32, 32)):
        with pytest.raises(ConfigError) as info:
            model(bad)
        message = str(info.value)
        assert "(B, 3, 32, 32)" in message and "img_size" in message and "\n" not in message


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"patch_size": 5}, "patch_size"),
        ({"embed_dim": 16, "num_heads": 3}, "heads"),
        ({"embed_dim": 12, "num_heads": 2, "groups": 8}, "groups"),
        ({"depth": 0}, "depth"),
        ({"mlp_ratio": 0.0}, "mlp_ratio"),
    ],
)
def test_bad_sizes_are_config_errors(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        create_model("kat", **{**TINY, **kwargs})


def test_unknown_mixer():
    with pytest.raises(ConfigError, match="mixer"):
        VisionTransformer(mixer="relu")


def test_reset_classifier():
    model = create_model("kat_vit", **TINY)
    model.reset_classifier(100)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 100)
