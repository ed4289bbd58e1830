"""Classic illuminant estimators, the angular error and the illuminant-estimation task."""

import math

import pytest
import torch

from mlpzoo.errors import DataError
from mlpzoo.methods.color_constancy import (
    CLASSIC,
    IlluminantEstimation,
    angular_error,
    error_statistics,
    grey_edge_estimate,
    tune_classic,
)


def _lit(light, n=2, size=12, seed=0):
    """Grey-world scenes (random neutral-mean reflectances) under ``light``."""
    generator = torch.Generator().manual_seed(seed)
    reflectance = torch.rand(n, 1, size, size, generator=generator).expand(n, 3, size, size) * 0.8
    return reflectance * torch.tensor(light).view(1, 3, 1, 1)


def test_angular_error_known_angles():
    a = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    b = torch.tensor([[0.0, 1.0, 0.0], [2.0, 2.0, 2.0]])
    assert torch.allclose(angular_error(a, b), torch.tensor([90.0, 0.0]), atol=0.05)
    with pytest.raises(DataError):
        angular_error(a, b[:, :2])


@pytest.mark.parametrize("name", list(CLASSIC))
def test_classic_estimators_recover_the_light_of_achromatic_scenes(name):
    light = [0.9, 0.6, 0.3]
    order, ps, sigmas = CLASSIC[name]
    estimate = grey_edge_estimate(_lit(light), order, ps[-1], sigmas[-1])
    truth = torch.tensor([light, light])
    assert float(angular_error(estimate, truth).max()) < 0.5


def test_clipped_pixels_are_left_out():
    images = _lit([0.9, 0.6, 0.3])
    images[:, :, :3, :3] = 1.0  # a clipped, white-looking highlight would pull white-patch to grey
    estimate = grey_edge_estimate(images, 0, math.inf, 0.0)
    assert float(angular_error(estimate, torch.tensor([[0.9, 0.6, 0.3]] * 2)).max()) < 0.5


def test_tuning_picks_the_better_frame():
    light = [0.5, 0.7, 0.5]
    good, bad = _lit(light), _lit([0.2, 0.2, 0.9])
    best = tune_classic("shades_of_grey", {"long": bad, "short": good}, torch.tensor([light, light]))
    assert best["frame"] == "short" and best["valid_mean"] < 0.5


@pytest.mark.parametrize("bad", [torch.randint(0, 255, (1, 3, 4, 4), dtype=torch.uint8), torch.rand(1, 3, 4, 4) * 4])
def test_images_outside_the_linear_range_get_one_line(bad):
    with pytest.raises(DataError) as error:
        grey_edge_estimate(bad)
    assert "[0, 1]" in str(error.value) and "\n" not in str(error.value)


def test_error_statistics_and_task():
    stats = error_statistics([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    assert stats == {"mean": 4.5, "median": 4.5, "worst25": 7.5}
    task = IlluminantEstimation()
    truth = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.5, 0.2]])
    outputs = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.5, 0.2]], requires_grad=True)
    assert float(task.loss(outputs, {"label": truth}).detach()) < 0.05
    assert task.evaluate(truth.numpy(), torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.5, 0.2]]).numpy())["worst25"] > 50
