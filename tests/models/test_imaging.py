"""EMLP and the DN-PIQA dual-branch regressor: sizes, input standardisation, and what each branch reads."""

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.errors import DataError
from mlpzoo.measure import count_parameters


def test_emlp_is_a_few_hundred_parameters_and_its_ablation_matches():
    assert count_parameters(create_model("emlp")) == 355  # the paper's EMLP: about 350
    assert abs(count_parameters(create_model("emlp", use_def=False, hidden=27)) - 355) <= 0.03 * 355


def test_emlp_outputs_unit_lights_and_reads_the_def():
    torch.manual_seed(0)
    long = torch.rand(4, 3, 8, 8)
    frames = torch.stack([long, long / 4], 1)
    model = create_model("emlp")
    model.set_input_scaling(frames)
    light = model(frames)
    assert light.shape == (4, 3) and torch.allclose(light.norm(dim=1), torch.ones(4)) and (light > 0).all()
    assert model.features(frames).shape == (4, 18)
    assert create_model("emlp", use_def=False).features(frames).shape == (4, 9)


def test_emlp_refuses_8_bit_frames():
    frames = torch.randint(0, 255, (2, 2, 3, 8, 8)).float()
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        create_model("emlp")(frames)


def test_dual_branch_reads_the_crop_half_in_its_own_branch():
    torch.manual_seed(0)
    model = create_model("dn_piqa", feature_dim=5, dropout=0.0).eval()
    x = torch.randn(3, 10)
    moved = x.clone()
    moved[:, 5:] += 1.0
    assert model(x).shape == (3,)
    assert not torch.allclose(model(x), model(moved))
    model.set_input_scaling(x)
    assert torch.allclose(model.scaling(x).mean(0), torch.zeros(10), atol=1e-5)
    with pytest.raises(DataError):
        model(torch.randn(3, 9))
