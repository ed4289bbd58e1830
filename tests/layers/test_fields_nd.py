"""Neural-field layers: positional encoding, feature planes against a hand-computed bilinear read, batched MLPs
against a loop of single MLPs, SAL's initialisation, and the splat renderer against closed forms."""

import math

import pytest
import torch

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.fields_nd import (
    BatchedMLP,
    FeaturePlanes,
    FourierFeatures,
    PinholeCamera,
    geometric_init_,
    quaternion_to_matrix,
    render_gaussians,
)


def test_fourier_features_width_and_values():
    encode = FourierFeatures(3, 2)
    x = torch.tensor([[0.25, -0.5, 1.0]])
    out = encode(x)
    assert out.shape == (1, 3 * 5) and encode.out_features == 15
    assert torch.allclose(out[0, :3], x[0])
    assert torch.allclose(out[0, 3], torch.sin(torch.tensor(math.pi * 0.25)))  # k = 0 of the first coordinate


def test_fourier_features_refuses_integer_coordinates():
    with pytest.raises(DataError, match="float"):
        FourierFeatures(2, 1)(torch.ones(2, 2, dtype=torch.long))


def test_feature_planes_read_grid_values_and_multiply():
    planes = FeaturePlanes((3, 2), channels=1)
    with torch.no_grad():
        planes.planes[0].copy_(torch.arange(6.0).reshape(1, 1, 2, 3))  # rows: axis 1, columns: axis 0
    corners = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, -1.0], [-0.5, 0.0]])
    expected = torch.tensor([0.0, 5.0, 1.0, 0.5 * (0 + 1) / 2 + 0.5 * (3 + 4) / 2])
    assert torch.allclose(planes(corners)[:, 0], expected)
    three = FeaturePlanes((4, 4, 4), channels=2)
    assert len(three.planes) == 3 and three(torch.zeros(5, 3)).shape == (5, 2)


def test_feature_planes_need_two_axes():
    with pytest.raises(ConfigError, match="at least two"):
        FeaturePlanes((8,), channels=2)


def test_batched_mlp_equals_one_mlp_per_network():
    torch.manual_seed(0)
    mlp = BatchedMLP(3, 4, [5], 2)
    x = torch.randn(3, 7, 4)
    out = mlp(x)
    for k in range(3):
        hidden = torch.relu(x[k] @ mlp.weights[0][k] + mlp.biases[0][k])
        assert torch.allclose(out[k], hidden @ mlp.weights[1][k] + mlp.biases[1][k], atol=1e-6)


def test_batched_mlp_refuses_rows_not_grouped_by_network():
    with pytest.raises(DataError, match="num_networks=3"):
        BatchedMLP(3, 4, [5], 2)(torch.randn(2, 7, 4))


def test_geometric_init_starts_near_a_sphere():
    torch.manual_seed(0)
    layers = [torch.nn.Linear(3, 256), torch.nn.Linear(256, 256), torch.nn.Linear(256, 1)]
    geometric_init_(layers, radius=0.5)
    points = torch.nn.functional.normalize(torch.randn(200, 3), dim=1) * 0.5
    x = points
    for layer in layers[:-1]:
        x = torch.nn.functional.softplus(layer(x), beta=100)
    value = layers[-1](x).squeeze(1)
    assert value.abs().mean() < 0.1  # on the sphere of radius 0.5 the field is near zero


def test_quaternion_to_matrix_is_a_rotation():
    rotation = quaternion_to_matrix(torch.tensor([[0.9, 0.1, -0.3, 0.2]]))[0]
    assert torch.allclose(rotation @ rotation.T, torch.eye(3), atol=1e-6)
    assert torch.allclose(torch.det(rotation), torch.tensor(1.0), atol=1e-6)


def _camera(size=9):
    return PinholeCamera(10.0, 10.0, (size - 1) / 2, (size - 1) / 2, size, size, torch.eye(3), torch.zeros(3))


def test_one_gaussian_renders_opacity_times_colour_at_its_centre():
    means, scales = torch.tensor([[0.0, 0.0, 1.0]]), torch.full((1, 3), 0.1)
    rotation, colour = torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[0.2, 0.4, 0.8]])
    image, weights = render_gaussians(
        means, scales, rotation, torch.tensor([0.5]), colour, _camera(), radius=3, background=1.0, return_weights=True
    )
    assert torch.allclose(image[4, 4], 0.5 * colour[0] + 0.5 * 1.0, atol=1e-5)
    assert float(weights[0]) > 0.5  # the centre pixel alone weighs 0.5


def test_front_gaussian_hides_the_one_behind():
    means = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 1.0]])  # the second is in front
    image = render_gaussians(
        means,
        torch.full((2, 3), 0.2),
        torch.tensor([[1.0, 0, 0, 0]] * 2),
        torch.tensor([0.99, 0.99]),
        torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        _camera(),
    )
    assert image[4, 4, 1] > 0.98 and image[4, 4, 0] < 0.02


def test_render_is_differentiable_in_colour_and_opacity():
    colour = torch.tensor([[0.5, 0.5, 0.5]], requires_grad=True)
    opacity = torch.tensor([0.6], requires_grad=True)
    image = render_gaussians(
        torch.tensor([[0.0, 0.0, 1.0]]),
        torch.full((1, 3), 0.1),
        torch.tensor([[1.0, 0, 0, 0]]),
        opacity,
        colour,
        _camera(),
    )
    image.sum().backward()
    assert colour.grad.abs().sum() > 0 and opacity.grad.abs().sum() > 0


def test_render_refuses_mismatched_shapes():
    with pytest.raises(DataError, match="scales"):
        render_gaussians(
            torch.zeros(2, 3), torch.zeros(1, 3), torch.zeros(2, 4), torch.zeros(2), torch.zeros(2, 3), _camera()
        )
