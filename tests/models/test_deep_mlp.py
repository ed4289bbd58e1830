"""Scaling-MLP, Hourglass MLP and the conventional residual MLP: registry, maths, sizes, errors."""

import pytest
import torch
import torch.nn.functional as F

import mlpzoo
from mlpzoo.errors import ConfigError
from mlpzoo.measure import count_flops
from mlpzoo.models.deep_mlp import DeepResidualMLP, ScalingMLP

NAMES = [
    "scaling_mlp",
    "scaling_mlp_b6_wi512",
    "scaling_mlp_b12_wi512",
    "scaling_mlp_b6_wi1024",
    "scaling_mlp_b12_wi1024",
    "hourglass_mlp",
    "residual_mlp",
]


def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_registered():
    assert set(NAMES) <= set(mlpzoo.list_models(family="deep_mlp"))


def reference_forward(model: DeepResidualMLP, x: torch.Tensor) -> torch.Tensor:
    z = x.reshape(len(x), -1)
    embed = model.embed
    z = (
        z @ embed.weight.T + (embed.bias if getattr(embed, "bias", None) is not None else 0)
        if hasattr(embed, "weight")
        else z
    )
    for block in model.blocks:
        h = F.layer_norm(z, (model.dim,), block.norm.weight, block.norm.bias)
        z = z + F.gelu(h @ block.down.weight.T + block.down.bias) @ block.up.weight.T + block.up.bias
    if isinstance(model.norm, torch.nn.LayerNorm):
        z = F.layer_norm(z, (model.dim,), model.norm.weight, model.norm.bias)
    return z @ model.head.weight.T + model.head.bias


@pytest.mark.parametrize(
    "name,kwargs,shape",
    [
        ("scaling_mlp", {"image_size": 8, "in_channels": 3, "num_classes": 5, "width": 16, "depth": 2}, (4, 3, 8, 8)),
        (
            "scaling_mlp",
            {"image_size": 8, "in_channels": 3, "num_classes": 5, "width": 16, "depth": 2, "final_norm": False},
            (4, 192),
        ),
        (
            "hourglass_mlp",
            {"in_features": 64, "out_features": 10, "dim": 96, "bottleneck": 8, "depth": 3},
            (4, 1, 8, 8),
        ),
        ("residual_mlp", {"in_features": 64, "out_features": 10, "hidden": 128, "depth": 2}, (4, 64)),
        ("residual_mlp", {"in_features": 64, "out_features": 10, "hidden": 48, "depth": 2, "dim": 24}, (4, 64)),
    ],
)
def test_forward_matches_reference_and_trains(name, kwargs, shape):
    torch.manual_seed(0)
    model = mlpzoo.create_model(name, **kwargs)
    x = torch.randn(shape)
    out = model({"x": x})
    torch.testing.assert_close(out, reference_forward(model, x), rtol=1e-4, atol=1e-5)
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_shapes_and_hourglass_structure():
    model = mlpzoo.create_model("hourglass_mlp", in_features=784, out_features=784, dim=1024, bottleneck=32, depth=2)
    assert model({"x": torch.rand(3, 1, 28, 28)}).shape == (3, 784)
    assert all(b.hidden < b.dim for b in model.blocks)
    # The lift is a buffer: only blocks, norm and head train.
    assert trainable(model) == 2 * (2 * 1024 * 32 + 32 + 1024 + 2 * 1024) + 2 * 1024 + 1024 * 784 + 784
    again = mlpzoo.create_model("hourglass_mlp", in_features=784, out_features=784, dim=1024, bottleneck=32, depth=2)
    torch.testing.assert_close(again.embed.weight, model.embed.weight)
    learned = mlpzoo.create_model(
        "hourglass_mlp", in_features=784, dim=1024, bottleneck=32, depth=2, input_projection="learned"
    )
    assert trainable(learned) > trainable(
        mlpzoo.create_model("hourglass_mlp", in_features=784, dim=1024, bottleneck=32, depth=2)
    )
    conventional = mlpzoo.create_model("residual_mlp", in_features=64, out_features=1, hidden=256, depth=2)
    assert all(b.hidden > b.dim for b in conventional.blocks)
    assert conventional({"x": torch.rand(5, 64)}).shape == (5,)


def test_paper_parameter_counts():
    """The released B-MLPs at 64 x 64 on ImageNet-21k (10,450 classes): 24M, 37M, 74M, 124M."""
    expected = {
        "scaling_mlp_b6_wi512": 24e6,
        "scaling_mlp_b12_wi512": 37e6,
        "scaling_mlp_b6_wi1024": 74e6,
        "scaling_mlp_b12_wi1024": 124e6,
    }
    with torch.device("meta"):
        for name, count in expected.items():
            model = mlpzoo.create_model(name, image_size=64, num_classes=10450, final_norm=False)
            assert abs(trainable(model) - count) < 0.5e6, name


def test_scaling_mlp_flops_match_formula():
    model = ScalingMLP(image_size=8, in_channels=3, num_classes=10, width=32, depth=2)
    macs = 192 * 32 + 2 * (2 * 32 * 128) + 32 * 10
    assert count_flops(model, {"x": torch.zeros(1, 3, 8, 8)}) == 2 * macs


def test_bad_inputs_name_the_expected_size():
    model = ScalingMLP(image_size=32, in_channels=3, num_classes=10, width=16, depth=1)
    with pytest.raises(ConfigError, match=r"\(batch, 3, 32, 32\).*wrong image size"):
        model({"x": torch.zeros(2, 3, 28, 28)})
    with pytest.raises(ConfigError, match=r"wrong channels"):
        model({"x": torch.zeros(2, 1, 32, 32)})
    with pytest.raises(ConfigError, match="3072 input features"):
        model({"x": torch.zeros(2, 100)})
    with pytest.raises(ConfigError, match="64 input features"):
        mlpzoo.create_model("hourglass_mlp")({"x": torch.zeros(2, 1, 28, 28)})
    with pytest.raises(ConfigError, match="narrower"):
        mlpzoo.create_model("hourglass_mlp", dim=64, bottleneck=64)
    with pytest.raises(ConfigError, match="input_projection"):
        DeepResidualMLP(8, 2, 8, 4, 1, input_projection="random")
    with pytest.raises(ConfigError, match="identity"):
        DeepResidualMLP(8, 2, 16, 4, 1, input_projection="identity")


def test_identity_output_keeps_the_residual_stream():
    torch.manual_seed(0)
    model = DeepResidualMLP(8, 8, 8, 16, 2, "identity", final_norm=False, output_projection="identity")
    x = torch.randn(4, 8)
    torch.testing.assert_close(model({"x": x}), model.blocks[1](model.blocks[0](x)))
    with torch.no_grad():
        for block in model.blocks:
            block.up.weight.zero_()
            block.up.bias.zero_()
    torch.testing.assert_close(model({"x": x}), x)  # zero updates: the denoiser returns its input
    with pytest.raises(ConfigError, match="final_norm=False"):
        DeepResidualMLP(8, 8, 8, 16, 1, "identity", output_projection="identity")
    with pytest.raises(ConfigError, match="output_projection"):
        DeepResidualMLP(8, 8, 8, 16, 1, output_projection="fixed")
