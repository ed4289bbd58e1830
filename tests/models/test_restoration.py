"""The restoration UNets: any image size (padding for odd ones), residual output, parameter matching, bad input."""

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.claims.kits.restoration import matched_expansion
from mlpzoo.errors import ConfigError
from mlpzoo.measure import count_parameters


@pytest.mark.parametrize("name", ["maxim_unet", "conv_unet"])
def test_runs_at_sizes_it_was_not_built_for(name):
    torch.manual_seed(0)
    model = create_model(name, width=4, depth=2).eval()
    # The default MAXIM needs multiples of 16; 16 and 48 fit, 37 x 29 is padded and cropped back.
    for h, w in ((16, 16), (48, 32), (37, 29)):
        x = torch.rand(1, 3, h, w)
        assert model(x).shape == x.shape


def test_padding_does_not_change_an_image_that_fits():
    torch.manual_seed(0)
    model = create_model("maxim_unet", width=4, depth=1, block_size=2, grid_size=2).eval()
    x = torch.rand(1, 3, 8, 8)
    # A 6 x 6 image is padded to 8 x 8: its output is a function of its own pixels only through the padding.
    assert torch.isfinite(model(x[..., :6, :6])).all()
    with torch.no_grad():
        assert torch.equal(model(x), model({"x": x}))


def test_output_is_input_plus_residual():
    model = create_model("conv_unet", width=4, depth=1)
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(model(x), x)


def test_conv_unet_matches_maxim_parameters_within_3_percent():
    target = count_parameters(create_model("maxim_unet"))
    expansion = matched_expansion(target, {})
    conv = count_parameters(create_model("conv_unet", expansion=expansion))
    assert abs(conv / target - 1) <= 0.03


def test_bad_input_is_refused_in_one_line():
    model = create_model("maxim_unet", width=4, depth=1)
    for bad, words in ((torch.rand(2, 1, 8, 8), "channels"), (torch.rand(3, 8, 8), "(B, C, H, W)")):
        with pytest.raises(ConfigError, match=r"\(B, C, H, W\)|channels") as err:
            model(bad)
        assert words in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="width=1"):
        create_model("conv_unet", width=1)
