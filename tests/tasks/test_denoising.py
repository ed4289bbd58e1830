"""The denoising task: MSE loss, per-image PSNR (clipped to [0, 1]), a clean target of the wrong shape."""

import numpy as np
import pytest
import torch

from mlpzoo.errors import DataError
from mlpzoo.tasks.denoising import Denoising, psnr


def test_psnr_per_image_and_its_mean():
    clean = np.zeros((2, 1, 2, 2))
    restored = np.stack([np.full((1, 2, 2), 0.1), np.full((1, 2, 2), 0.01)])
    assert psnr(clean, restored) == pytest.approx([20.0, 40.0])
    metrics = Denoising().evaluate(clean, restored)
    assert metrics["psnr"] == pytest.approx(30.0)  # the mean of per-image PSNRs, not the PSNR of the mean error
    # Values outside [0, 1] are clipped before scoring, as a saved image would be.
    assert psnr(clean, -restored) == pytest.approx([120.0, 120.0])


def test_loss_and_a_wrong_target_shape():
    outputs, clean = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    assert Denoising().loss(outputs, {"label": clean}) == 1.0
    with pytest.raises(DataError, match="pass the clean images") as err:
        Denoising().loss(outputs, {"label": clean[:, :1]})
    assert "\n" not in str(err.value)
