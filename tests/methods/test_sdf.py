"""SDF fitting pieces: bad point clouds, the k-NN baseline, the eikonal term and a short fit to a sphere."""

import numpy as np
import pytest
import torch

from mlpzoo import create_model
from mlpzoo.errors import DataError
from mlpzoo.methods.sdf import EikonalRegularised, check_points, fit_sdf, knn_distance_scores, level_set_scores


def test_points_with_nan_are_refused():
    points = np.zeros((5, 3))
    points[2, 1] = np.nan
    with pytest.raises(DataError, match="row 2"):
        check_points(points)


def test_too_few_points_for_knn_are_refused():
    with pytest.raises(DataError, match="at least 9"):
        knn_distance_scores(torch.rand(5, 3), k=8)


def test_knn_scores_single_out_an_isolated_point():
    points = torch.cat([torch.rand(50, 3) * 0.1, torch.tensor([[0.9, 0.9, 0.9]])])
    scores = knn_distance_scores(points, k=4)
    assert scores.argmax() == 50


def test_eikonal_term_vanishes_for_a_true_distance_field():
    class Sphere(torch.nn.Module):
        def forward(self, batch):
            x = batch["x"] if isinstance(batch, dict) else batch
            return x.norm(dim=1) - 0.5

        def gradient(self, points, create_graph=False):
            points = points.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(points).sum(), points, create_graph=create_graph)
            return grad

    wrapped = EikonalRegularised(Sphere(), torch.zeros(1, 3), weight=1.0)
    assert float(wrapped.regularization_loss({"x": torch.rand(64, 3) * 0.8 + 0.1}).detach()) < 1e-8


def test_fit_puts_sphere_points_on_the_level_set_and_flags_an_outlier():
    torch.manual_seed(0)
    surface = torch.nn.functional.normalize(torch.randn(400, 3), dim=1) * 0.6
    points = torch.cat([surface, torch.tensor([[0.0, 0.0, 0.0]])])  # the centre is 0.6 off the surface
    field = create_model("level_s2fm_sdf", width=32, depth=2, radius=0.5)
    config = {"epochs": 20, "patience": 20, "batch_size": 128, "lr": 5e-3, "progress": False, "save_checkpoints": False}
    fit_sdf(field, points, config)
    scores = level_set_scores(field, points)
    assert scores[-1] > 5 * np.median(scores[:-1])
