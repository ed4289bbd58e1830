"""The standard ViT and the minimal transformer: registry, patch embedding, shapes, sizes, errors."""

import itertools

import pytest
import torch

import mlpzoo
from mlpzoo.errors import ConfigError
from mlpzoo.models.transformer import PatchEmbedding, VisionTransformer


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_registered():
    assert {"vit_standard", "min_transformer"} <= set(mlpzoo.list_models(family="transformer"))
    assert mlpzoo.registry.model_entry("min_transformer").paper == "min-transformer"


def test_patch_embedding_matches_linear_on_patches():
    torch.manual_seed(0)
    embed = PatchEmbedding(image_size=8, patch_size=4, in_channels=3, dim=5)
    x = torch.randn(2, 3, 8, 8)
    # Slow reference: cut patches row by row, flatten (channel, row, col), one linear map.
    patches = torch.stack([x[:, :, i : i + 4, j : j + 4].reshape(2, -1) for i in (0, 4) for j in (0, 4)], dim=1)
    expected = patches @ embed.proj.weight.reshape(5, -1).T + embed.proj.bias
    torch.testing.assert_close(embed(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "similarity,value_output,mlp_ratio,heads",
    list(itertools.product(["separate", "collapsed", "symmetric"], [True, False], [0, 4], [1, 4])),
)
def test_every_combination_runs_and_trains(similarity, value_output, mlp_ratio, heads):
    torch.manual_seed(0)
    model = mlpzoo.create_model(
        "min_transformer",
        image_size=8,
        in_channels=3,
        num_classes=4,
        patch_size=4,
        dim=8,
        depth=2,
        heads=heads,
        similarity=similarity,
        value_output=value_output,
        mlp_ratio=mlp_ratio,
    )
    out = model({"x": torch.randn(3, 3, 8, 8)})
    assert out.shape == (3, 4) and torch.isfinite(out).all()
    out.square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert all(p.grad.abs().sum() > 0 for name, p in model.named_parameters() if "blocks" in name)


def test_reduced_model_saves_parameters():
    standard = mlpzoo.create_model("vit_standard", dim=64, depth=4, heads=4)
    minimal = mlpzoo.create_model("min_transformer", dim=64, depth=4, heads=4)
    block_std, block_min = count(standard.blocks), count(minimal.blocks)
    assert block_std == 4 * (4 * (64 * 64 + 64) + 2 * 64 + 2 * 64 * 256 + 256 + 64 + 2 * 64)
    assert block_min == 4 * (4 * 16 * 17 // 2 + 2 * 64)
    assert count(minimal) < 0.1 * count(standard)


def test_default_sizes_fit_fashion_mnist_and_cifar():
    assert mlpzoo.create_model("vit_standard")({"x": torch.rand(2, 1, 28, 28)}).shape == (2, 10)
    cifar = mlpzoo.create_model("min_transformer", image_size=32, in_channels=3)
    assert cifar({"x": torch.rand(2, 3, 32, 32)}).shape == (2, 10)


def test_bad_inputs_name_the_expected_size():
    model = VisionTransformer(image_size=28, in_channels=1, dim=8, depth=1, heads=1)
    with pytest.raises(ConfigError, match=r"\(batch, 1, 28, 28\).*wrong image size"):
        model({"x": torch.zeros(2, 1, 32, 32)})
    with pytest.raises(ConfigError, match="wrong channels"):
        model({"x": torch.zeros(2, 3, 28, 28)})
    with pytest.raises(ConfigError, match="patch_size"):
        VisionTransformer(image_size=28, patch_size=5)
    with pytest.raises(ConfigError, match="divide"):
        VisionTransformer(dim=10, heads=4)
