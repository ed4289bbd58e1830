"""NeuralGS's method pieces: bad point clouds, k-means, cluster batching, the weighted loss, storage and 8-bit."""

import pytest
import torch

from mlpzoo.errors import DataError
from mlpzoo.methods.neuralgs import (
    FLOAT32_BYTES_PER_GAUSSIAN,
    ClusteredAttributes,
    GaussianScene,
    ImportanceWeightedFit,
    field_bytes,
    kmeans,
    quantize_8bit,
)


def _scene(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return GaussianScene(
        torch.randn(n, 3, generator=g),
        torch.rand(n, 3, generator=g) * 0.1 + 0.01,
        torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=1),
        torch.rand(n, generator=g) * 0.9 + 0.05,
        torch.rand(n, 3, generator=g),
    )


def test_kmeans_refuses_nan_points():
    points = torch.randn(10, 3)
    points[3, 1] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        kmeans(points, 2)


def test_kmeans_refuses_fewer_points_than_clusters():
    with pytest.raises(DataError, match="fewer than num_clusters=5"):
        kmeans(torch.randn(4, 3), 5)


def test_kmeans_separates_two_blobs():
    points = torch.cat([torch.randn(30, 3) * 0.1, torch.randn(30, 3) * 0.1 + 5])
    labels, centroids = kmeans(points, 2, seed=1)
    assert labels[:30].unique().numel() == 1 and labels[30:].unique().numel() == 1 and labels[0] != labels[-1]


def test_scene_refuses_nan_attributes():
    arrays = {
        name: getattr(_scene(), name).numpy().copy()
        for name in ("positions", "scales", "rotations", "opacities", "colours")
    }
    arrays["positions"][7, 0] = float("nan")
    with pytest.raises(DataError, match="positions holds NaN.*row 7"):
        GaussianScene.from_arrays(arrays)


def test_attributes_round_trip():
    scene = _scene()
    back = GaussianScene.from_attributes(scene.positions, scene.attributes())
    assert torch.allclose(back.scales, scene.scales, atol=1e-5)
    assert torch.allclose(back.opacities, scene.opacities, atol=1e-4)
    q, r = back.rotations, scene.rotations * torch.where(scene.rotations[:, :1] < 0, -1.0, 1.0)
    assert torch.allclose(q, r, atol=1e-5)


def test_clustered_batches_have_one_row_of_every_cluster_and_cover_members():
    scene = _scene(25)
    labels = torch.tensor([0] * 20 + [1] * 5)
    data = ClusteredAttributes(scene.positions, scene.attributes(), torch.ones(25), labels)
    batch = next(data.iter_batches(8, shuffle=True, seed=0, epoch=1))
    assert batch["x"].shape == (2, 8, 3) and batch["label"].shape == (16, 12)
    assert data.local.min() >= -1 - 1e-6 and data.local.max() <= 1 + 1e-6
    seen = torch.cat([b["label"] for b in data.iter_batches(8)])
    assert seen[:, -1].sum() == 25  # padding carries weight 0, every member weight 1 once
    grid = data.decode_order(torch.arange(2 * 20).float().reshape(2, 20, 1))
    assert grid.shape == (25, 1) and sorted(grid[20:, 0].tolist()) == [20.0, 21.0, 22.0, 23.0, 24.0]


def test_weighted_loss_ignores_weight_zero_rows():
    task = ImportanceWeightedFit()
    label = torch.tensor([[1.0, 1.0, 1.0], [5.0, 5.0, 0.0]])  # two targets then the weight
    outputs = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    assert float(task.loss(outputs, {"label": label})) == 0.0
    assert task.evaluate(label.numpy(), outputs.reshape(-1, 2).numpy())["weighted_mse"] == 0.0


def test_storage_counts_and_8bit_ratio():
    assert field_bytes(100, 4, 110, position_bits=12) == 450 + 4 * 28 + 220
    scene = _scene(1000)
    decoded, size = quantize_8bit(scene)
    assert 3.0 < 1000 * FLOAT32_BYTES_PER_GAUSSIAN / size < 3.4
    assert (decoded.colours - scene.colours).abs().max() <= 0.5 / 255 + 1e-6
