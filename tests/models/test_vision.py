"""Vision token-mixing models: registry, shapes, gradients, matched parameters, input checks."""

import pytest
import torch

from mlpzoo import create_model, list_models
from mlpzoo.errors import ConfigError
from mlpzoo.registry import model_entry

VISION = ["dsm", "mixer", "ms_mlp", "raftmlp", "strip_mlp"]
PAPERS = {"mixer": None, "raftmlp": "raftmlp", "strip_mlp": "strip-mlp", "ms_mlp": "ms-mlp", "dsm": "dsm"}


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_registered_with_papers():
    assert set(VISION) <= set(list_models(family="vision"))
    assert {name: model_entry(name).paper for name in VISION} == PAPERS


@pytest.mark.parametrize("name", VISION)
def test_forward_backward_on_cifar_batch(name):
    model = create_model(name, dim=32, depth=2)
    x = torch.randn(3, 3, 32, 32)
    logits = model({"x": x, "label": torch.zeros(3)})
    assert logits.shape == (3, 10)
    logits.logsumexp(1).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.reset_classifier(4)
    assert model(x).shape == (3, 4)


def test_default_sizes_are_matched_to_mixer():
    counts = {name: _params(create_model(name)) for name in VISION}
    assert 1.0e6 < counts["mixer"] < 1.3e6
    for name, count in counts.items():
        assert abs(count / counts["mixer"] - 1) < 0.05, counts


@pytest.mark.parametrize("name", ["mixer", "strip_mlp", "dsm"])
def test_fixed_size_models_name_the_expected_size(name):
    model = create_model(name, dim=16, depth=1)
    with pytest.raises(ConfigError, match="image size 48x48 differs from the model's 32x32"):
        model(torch.randn(1, 3, 48, 48))


@pytest.mark.parametrize("name", ["raftmlp", "ms_mlp"])
def test_resolution_free_models_accept_other_sizes(name):
    model = create_model(name, dim=16, depth=1)
    assert model(torch.randn(2, 3, 48, 40)).shape == (2, 10)


@pytest.mark.parametrize("name", VISION)
def test_wrong_channel_count(name):
    model = create_model(name, dim=16, depth=1)
    with pytest.raises(ConfigError, match="1 channels but the model was built with in_chans=3"):
        model(torch.randn(1, 1, 32, 32))
    assert create_model(name, dim=16, depth=1, in_chans=1, img_size=28)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_resnet_cifar_is_he_et_al_resnet20():
    model = create_model("resnet_cifar")
    assert _params(model) == 269_722  # He et al. report 0.27 M for ResNet-20 (Table 6; option A shortcuts)
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 10) and model({"x": x}).shape == (2, 10)
    small = create_model("resnet_cifar", depth=8, width=8)
    assert _params(small) < _params(create_model("resnet_cifar", depth=8)) < _params(model)
    small(x).sum().backward()
    assert all(p.grad is not None for p in small.parameters())
    small.reset_classifier(4)
    assert small(torch.randn(1, 3, 40, 40)).shape == (1, 4)  # convolutional: any image size


def test_resnet_cifar_bad_input():
    with pytest.raises(ConfigError, match="6 n \\+ 2"):
        create_model("resnet_cifar", depth=10)
    with pytest.raises(ConfigError, match="1 channels but the model was built with in_chans=3"):
        create_model("resnet_cifar", depth=8)(torch.randn(1, 1, 32, 32))
