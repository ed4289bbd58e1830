"""Blind quality pieces: features that move with the distortions, the salient crop, the fidelity loss,
SRCC/PLCC against scipy, and the quality task."""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr

from mlpzoo.data.photos import distort
from mlpzoo.errors import ConfigError, DataError
from mlpzoo.methods.quality import (
    FEATURE_NAMES,
    QualityTask,
    fidelity_loss,
    quality_features,
    rank_metrics,
    salient_crop,
    two_branch_features,
)


def _photo(size=32, seed=0):
    """A smooth real-looking image: low-frequency colour blobs plus texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in (0.0, 1.0, 2.0)])
    image = 127 + 80 * base + 25 * rng.standard_normal((3, size, size))
    return np.clip(image, 0, 255).astype(np.uint8)


def _feature(images, name):
    return quality_features(torch.as_tensor(np.stack(images)))[:, FEATURE_NAMES.index(name)]


def test_features_follow_the_distortions():
    photo = _photo()
    rng = np.random.default_rng(0)
    blurred = [distort(photo, "blur", level, rng) for level in (0, 1, 3)]
    assert np.all(np.diff(_feature(blurred, "gradient_mean")) < 0)
    noisy = [distort(photo, "noise", level, rng) for level in (0, 1, 3)]
    assert np.all(np.diff(_feature(noisy, "noise_sigma")) > 0)
    features = quality_features(torch.as_tensor(np.stack(blurred)))
    assert features.shape == (3, len(FEATURE_NAMES)) and np.isfinite(features).all()


def test_salient_crop_finds_the_odd_patch():
    image = np.full((1, 3, 32, 32), 120, dtype=np.uint8)
    image[0, :, 20:26, 4:10] = 250  # one bright square on a flat field
    crop = salient_crop(torch.as_tensor(image))
    assert crop.shape == (1, 3, 16, 16) and int((crop == 250).sum()) == 3 * 36
    assert two_branch_features(torch.as_tensor(image)).shape == (1, 2 * len(FEATURE_NAMES))


@pytest.mark.parametrize("bad", [torch.rand(2, 3, 16, 16), np.zeros((2, 3, 16, 16), dtype=np.float32)])
def test_images_of_the_wrong_dtype_get_one_line(bad):
    with pytest.raises(DataError) as error:
        quality_features(bad)
    assert "0..255" in str(error.value) and "\n" not in str(error.value)


def test_fidelity_loss_rewards_the_right_order_within_a_scene_only():
    score = torch.tensor([90.0, 70.0, 50.0, 10.0, 30.0])
    group = torch.tensor([0, 0, 0, 1, 1])
    right = torch.tensor([90.0, 70.0, 50.0, -20.0, 30.0])
    wrong = -right
    assert float(fidelity_loss(right, score, group, 3.0)) < 0.01
    assert float(fidelity_loss(wrong, score, group, 3.0)) > 0.5
    # Across scenes nothing is compared: shifting one scene's predictions changes nothing.
    shifted = right + torch.tensor([0.0, 0.0, 0.0, 50.0, 50.0])
    assert torch.isclose(fidelity_loss(shifted, score, group, 3.0), fidelity_loss(right, score, group, 3.0))
    with pytest.raises(DataError, match="share a group"):
        fidelity_loss(right, score, torch.arange(5), 3.0)


def test_rank_metrics_match_scipy_and_average_within_groups():
    rng = np.random.default_rng(0)
    truth, prediction = rng.normal(size=30), rng.normal(size=30)
    groups = np.repeat(np.arange(3), 10)
    metrics = rank_metrics(truth, prediction, groups)
    assert metrics["srcc_all"] == pytest.approx(spearmanr(truth, prediction).statistic)
    assert metrics["plcc_all"] == pytest.approx(pearsonr(truth, prediction).statistic)
    within = np.mean([spearmanr(truth[groups == g], prediction[groups == g]).statistic for g in range(3)])
    assert metrics["srcc"] == pytest.approx(within)


def test_quality_task_losses():
    batch = {"label": torch.tensor([80.0, 60.0, 40.0]), "group": torch.tensor([0, 0, 0])}
    mse = QualityTask("mse", 3.0, score_center=60.0, score_scale=20.0)
    assert float(mse.loss(torch.tensor([1.0, 0.0, -1.0]), batch)) == pytest.approx(0.0)
    assert float(QualityTask("fidelity").loss(torch.tensor([9.0, 5.0, 1.0]), batch)) < 0.01
    with pytest.raises(ConfigError):
        QualityTask("hinge")
