"""The generative kit: equal-size MLP rivals and the MSE head."""

import torch

from mlpzoo.claims.kits.generative import MSEHead, matched_width, parameter_count
from mlpzoo.methods.generative import fit_generative


def test_matched_width_hits_the_parameter_count():
    for target, in_dim, out_dim, layers in ((20_000, 10, 5, 3), (350_000, 32, 32, 3), (5_000, 4, 8, 2)):
        head = MSEHead(in_dim, out_dim, matched_width(target, in_dim, out_dim, layers=layers), layers=layers)
        assert abs(parameter_count(head) / target - 1) < 0.02
    assert matched_width(1_000, 10, 5, layers=1) == round((1_000 - 5) / 16)
    # A fixed part (a codebook) is taken out of the budget first.
    assert matched_width(20_000, 10, 5, fixed=10_000) < matched_width(20_000, 10, 5)


def test_parameter_count_includes_a_codebook_buffer_only():
    head = MSEHead(3, 2, 4)
    plain = parameter_count(head)
    head.register_buffer("codebook", torch.zeros(7, 2))
    head.register_buffer("scratch", torch.zeros(100))
    assert parameter_count(head) == plain + 14


def test_mse_head_fits_the_conditional_mean_through_fit_generative():
    context = torch.linspace(-1, 1, 256)[:, None]
    target = torch.where(torch.rand(256, 1, generator=torch.Generator().manual_seed(0)) < 0.5, 1.0, -1.0) + 2 * context
    head = MSEHead(1, 1, 16)
    fit_generative(head, target, context, steps=300, batch_size=64, lr=1e-2, seed=0)
    draws = head.sample(256, context)
    assert torch.allclose(draws, head.sample(256, context))  # deterministic: one point per context
    assert (draws - 2 * context).abs().mean() < 0.3  # near the mean of the two modes, far from both
