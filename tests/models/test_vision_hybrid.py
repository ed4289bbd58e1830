"""The vision hybrids: the papers' parameter counts, bad input, and the shapes each model accepts."""

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.errors import ConfigError
from mlpzoo.layers.hybrid import EfficientModBlock, GridAttentionBlock
from mlpzoo.measure import count_parameters


@pytest.mark.parametrize(
    "name, classes, millions",
    [
        ("spartan_t", 1000, 3.8),  # abstract
        ("efficientmod_xxs", 1000, 4.7),
        ("efficientmod_xs", 1000, 6.6),
        ("efficientmod_s", 1000, 12.9),
        ("dhvt_small", 100, 22.8),  # abstract, the CIFAR-100 model
    ],
)
def test_published_sizes_are_near_the_papers_counts(name, classes, millions):
    count = count_parameters(create_model(name, num_classes=classes))
    assert abs(count / (millions * 1e6) - 1) < 0.05, count


@pytest.mark.parametrize("name", ["ninformer", "spartan_cifar", "convnext_cifar", "efficientmod_cifar", "dhvt_cifar"])
def test_cifar_sizes_classify_cifar_images_and_refuse_wrong_channels(name):
    model = create_model(name).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model({"x": torch.randn(2, 3, 32, 32)}).shape == (2, 10)
    with pytest.raises(ConfigError, match="in_chans=3") as error:
        model(torch.randn(2, 1, 32, 32))
    assert "\n" not in str(error.value)


def test_wrong_image_sizes_get_one_line_errors():
    with pytest.raises(ConfigError, match="img_size=24"):
        create_model("ninformer")(torch.randn(1, 3, 24, 24))  # position-indexed token MLPs
    with pytest.raises(ConfigError, match="multiple of the patch size 8"):
        create_model("spartan_cifar")(torch.randn(1, 3, 36, 36))  # stride 2 stem x two stride-2 stages
    with pytest.raises(ConfigError, match="not square"):
        create_model("dhvt_cifar")(torch.randn(1, 3, 32, 48))
    with pytest.raises(ConfigError, match="patch=3"):
        create_model("dhvt_cifar", patch=3)


def test_conv_hybrids_accept_other_image_sizes():
    for name in ("spartan_cifar", "efficientmod_cifar", "dhvt_cifar"):
        assert create_model(name).eval()(torch.randn(1, 3, 48, 48)).shape == (1, 10)


def test_efficientmod_hybrid_closes_its_last_stages_with_attention():
    model = create_model("efficientmod_xxs", num_classes=1000)
    kinds = [[type(b).__name__ for b in stage if not type(b).__name__ == "Downsample"] for stage in model.stages]
    assert kinds[0] == ["EfficientModBlock"] * 2 and "GridAttentionBlock" not in kinds[1]
    assert kinds[2][-1] == "GridAttentionBlock" and kinds[3][-2:] == ["GridAttentionBlock"] * 2
    assert sum(isinstance(m, EfficientModBlock) for m in model.modules()) == 11
    assert sum(isinstance(m, GridAttentionBlock) for m in model.modules()) == 3
    with pytest.raises(ConfigError, match="heads=5"):
        create_model("efficientmod_cifar", heads=5)
