"""The neural-field models: sizes, the SDF's initial sphere and gradient, cluster fields as independent MLPs."""

import torch

from mlpzoo import create_model
from mlpzoo.measure import count_parameters


def test_plane_field_parameter_count():
    model = create_model("im4d_planes", resolution=(8, 6, 4), channels=5, hidden_units=(7,))
    planes = 5 * (8 * 6 + 8 * 4 + 6 * 4)
    decoder = (5 * 7 + 7) + (7 * 3 + 3)
    assert count_parameters(model) == planes + decoder
    assert model(torch.zeros(10, 3)).shape == (10, 3)


def test_coordinate_mlp_encodes_then_maps():
    model = create_model("coordinate_mlp", width=16, depth=2, num_frequencies=3)
    encoded = 3 * (2 * 3 + 1)
    assert count_parameters(model) == (encoded * 16 + 16) + (16 * 16 + 16) + (16 * 3 + 3)


def test_sdf_starts_as_a_sphere_with_unit_gradient():
    torch.manual_seed(0)
    field = create_model("level_s2fm_sdf", width=128, depth=3, radius=0.5)
    directions = torch.nn.functional.normalize(torch.randn(100, 3), dim=1)
    inside, outside = field(directions * 0.2), field(directions * 0.9)
    assert (inside < 0).float().mean() > 0.9 and (outside > 0).float().mean() > 0.9
    gradient = field.gradient(directions * 0.7)
    assert gradient.shape == (100, 3) and (gradient.norm(dim=1) - 1).abs().mean() < 0.3


def test_cluster_fields_do_not_share_weights():
    torch.manual_seed(0)
    model = create_model("neuralgs_field", num_clusters=3, hidden_units=(8,), num_frequencies=2)
    x = torch.rand(3, 4, 3)
    changed = x.clone()
    changed[1] += 0.5  # only cluster 1's inputs move
    a, b = model(x), model(changed)
    assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2]) and not torch.equal(a[1], b[1])
