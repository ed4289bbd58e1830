"""The imaging kit: splits that hold out whole source photographs, within-scene standardisation, plots."""

import numpy as np
import pytest
import torch

from mlpzoo.claims.kits.imaging import (
    plot_corrections,
    plot_illuminant_errors,
    plot_quality_scatter,
    source_split,
    within_scene_z,
)


def test_source_split_is_a_seeded_partition():
    train, valid, test = source_split(50, seed=1, valid=10, test=5)
    assert len(valid) == 10 and len(test) == 5 and len(train) == 35
    assert sorted(np.concatenate([train, valid, test]).tolist()) == list(range(50))
    again = source_split(50, seed=1, valid=10, test=5)
    assert all(np.array_equal(a, b) for a, b in zip((train, valid, test), again))
    assert not np.array_equal(source_split(50, seed=2, valid=10, test=5)[2], test)
    with pytest.raises(ValueError):
        source_split(10, seed=0, valid=5, test=5)


def test_within_scene_z_standardises_each_scene():
    values = np.array([1.0, 2.0, 3.0, 100.0, 300.0])
    z = within_scene_z(values, [0, 0, 0, 1, 1])
    assert np.allclose([z[:3].mean(), z[3:].mean()], 0) and np.allclose([z[:3].std(), z[3:].std()], 1, atol=1e-6)


def test_plots_are_written(tmp_path):
    errors = plot_illuminant_errors(
        {"a": [1.0, 2.0, 3.0], "b": [2.0, 1.0, 4.0]}, [3000.0, 5000.0, 7000.0], tmp_path / "errors.png"
    )
    light = torch.tensor([[0.8, 0.5, 0.3], [0.5, 0.6, 0.6]])
    corrections = plot_corrections(torch.rand(2, 3, 8, 8), {"a": light}, light, tmp_path / "corrections.png")
    panel = {
        "predicted": [1.0, 2.0, 3.0, 1.0],
        "observed": [1.0, 3.0, 2.0, 0.0],
        "group": [0, 0, 0, 0],
        "kind": [0, 1, 2, 3],
        "srcc": 0.4,
    }
    scatter = plot_quality_scatter({"mse": panel, "fidelity": panel}, tmp_path / "scatter.png")
    assert all(path.stat().st_size > 1000 for path in (errors, corrections, scatter))
