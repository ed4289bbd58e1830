"""Image statistics for the imaging MLPs: rgb-chromaticity, the dual-exposure feature, chromaticity cues."""

import pytest
import torch

from mlpzoo.errors import DataError
from mlpzoo.layers.imaging import (
    check_frames,
    dual_exposure_feature,
    max_chromaticity,
    mean_chromaticity,
    rgb_chromaticity,
)


def test_chromaticities_sum_to_one():
    images = torch.rand(2, 3, 4, 4) + 0.1
    assert torch.allclose(rgb_chromaticity(images).sum(-1), torch.ones(2, 16))
    assert torch.allclose(mean_chromaticity(images).sum(-1), torch.ones(2))


def test_dual_exposure_feature_recovers_a_known_map():
    # Short-frame chromaticities mapped by a fixed matrix M give the long frame's: the DEF is M.
    generator = torch.Generator().manual_seed(0)
    short = torch.rand(1, 3, 8, 8, generator=generator) + 0.05
    mapping = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.0, 0.1, 0.9]])
    chroma = rgb_chromaticity(short) @ mapping  # rows still sum to 1
    long = chroma.transpose(1, 2).reshape(1, 3, 8, 8)
    assert torch.allclose(dual_exposure_feature(long, short)[0], mapping, atol=5e-3)
    # Identical frames (no clipping, no noise) give the identity.
    assert torch.allclose(dual_exposure_feature(short, short)[0], torch.eye(3), atol=5e-3)


def test_white_patch_cue_skips_clipped_pixels():
    images = torch.full((1, 3, 2, 2), 0.1)
    images[0, :, 0, 0] = 1.0  # clipped white
    images[0, :, 1, 1] = torch.tensor([0.6, 0.3, 0.1])
    assert torch.allclose(max_chromaticity(images)[0], torch.tensor([0.6, 0.3, 0.1]))


@pytest.mark.parametrize(
    "frames, needle",
    [
        (torch.randint(0, 255, (1, 2, 3, 4, 4)), "float"),
        (torch.rand(1, 3, 4, 4), "(B, 2, 3, H, W)"),
        (torch.rand(1, 2, 3, 4, 4) * 255, "[0, 1]"),
    ],
)
def test_bad_frames_get_one_line(frames, needle):
    with pytest.raises(DataError) as error:
        check_frames(frames, "EMLP")
    assert needle in str(error.value) and "\n" not in str(error.value)
