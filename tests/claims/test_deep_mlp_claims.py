"""scaling-mlps, hourglass and min-transformer: verdicts on hand-made tables, helpers, and one quick run each."""

import math

import pytest
import torch

from mlpzoo.claims import get_claim, hourglass, min_transformer, scaling_mlps
from mlpzoo.claims.base import VERDICTS, get_budget


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------------------- scaling-mlps
def test_frontier_and_power_law_fit():
    points = [(10.0**k, 2.0 * 10.0 ** (-0.3 * k)) for k in range(1, 6)] + [(1e3, 0.9), (1e5, 0.5)]
    kept = scaling_mlps.frontier(points)
    assert [c for c, _ in kept] == [10.0**k for k in range(1, 6)]
    fit = scaling_mlps.power_law(kept)
    assert fit["exponent"] == pytest.approx(0.3) and fit["r2"] == pytest.approx(1.0)
    assert math.isnan(scaling_mlps.power_law(kept[:2])["exponent"])


def _scaling_runs(exponent, aug_offset):
    runs = []
    for cell, width in enumerate((16, 32, 64)):
        for epoch in (1, 2, 3):
            compute = 1e9 * (cell + 1) * epoch
            for augment in (True, False):
                error = 5.0 * compute ** (-exponent) - (aug_offset + 0.001 * cell if augment else 0.0)
                runs.append({"width": width, "depth": 1, "fraction": 1.0, "seed": 0, "augment": augment,
                             "epoch": epoch, "compute": compute, "test_error": error})
    return runs


def test_scaling_verdicts():
    assert scaling_mlps.verdict(scaling_mlps.tabulate(_scaling_runs(0.1, 0.05)))[0] == "reproduced"
    assert scaling_mlps.verdict(scaling_mlps.tabulate(_scaling_runs(0.1, -0.05)))[0] == "partly reproduced"
    flat = scaling_mlps.tabulate(_scaling_runs(-0.05, -0.05))  # error grows with compute, augmentation hurts
    verdict, reason = scaling_mlps.verdict(flat)
    assert verdict == "not reproduced" and "does not hold" in reason


# ---------------------------------------------------------------------------- hourglass
def _hourglass_table(diffs_by_task, std=math.nan, n=1):
    rows = []
    for task, diffs in diffs_by_task.items():
        for budget, diff in zip((1, 2, 3, 4), diffs):
            rows.append({"task": task, "shape": "conventional", "budget": budget, "n": n, "quality_mean": 0.9, "quality_std": std})
            rows.append({"task": task, "shape": "hourglass", "budget": budget, "n": n, "quality_mean": 0.9 + diff, "quality_std": std})
    return rows


def test_hourglass_verdicts():
    win, lose = (0.01, 0.02, 0.0, 0.03), (0.01, -0.02, 0.02, 0.03)
    assert hourglass.verdict(_hourglass_table({"digits": win, "fashion_denoise": win}))[0] == "reproduced"
    assert hourglass.verdict(_hourglass_table({"digits": lose, "fashion_denoise": win}))[0] == "partly reproduced"
    assert hourglass.verdict(_hourglass_table({"digits": lose, "fashion_denoise": lose}))[0] == "not reproduced"
    # A loss inside one standard error counts as no worse; a tie everywhere is not domination.
    assert hourglass.verdict(_hourglass_table({"digits": lose}, std=0.05, n=3))[0] == "not reproduced"
    assert hourglass.verdict(_hourglass_table({"digits": (0.1, -0.02, 0.1, 0.1)}, std=0.05, n=3))[0] == "reproduced"


def test_hourglass_budget_matching():
    settings = hourglass.SETTINGS["quick"]["digits"]
    for budget in settings["budgets"]:
        for shape in hourglass.SHAPES:
            options = hourglass.candidates(shape, "digits", settings, 64, 10, budget)
            assert options, (shape, budget)
            for dim, hidden, depth in options:
                model = hourglass.build(shape, "digits", 64, 10, dim, hidden, depth, 0)
                assert abs(hourglass.trainable(model) - budget) <= 2 * depth * dim + 10
                assert (hidden < dim) if shape == "hourglass" else (hidden > dim)


# ---------------------------------------------------------------------------- min-transformer
def _min_table(accuracy, params, std=math.nan, n=1):
    rows = []
    for dataset in ("fashion_mnist", "cifar10"):
        for (mode, variant), acc in accuracy.items():
            rows.append({"dataset": dataset, "mode": mode, "variant": variant, "n": n, "test_accuracy_mean": acc,
                         "test_accuracy_std": std, "parameters": params[(mode, variant)]})
    return rows


def test_min_transformer_verdicts():
    base, tiny, half = min_transformer.BASELINE, ("symmetric", "1 head, no MLP"), ("collapsed", "4 heads, MLP")
    params = {base: 100_000, tiny: 8_000, half: 45_000}
    assert min_transformer.verdict(_min_table({base: 0.9, tiny: 0.895, half: 0.8}, params))[0] == "reproduced"
    assert min_transformer.verdict(_min_table({base: 0.9, tiny: 0.8, half: 0.9}, params))[0] == "partly reproduced"
    verdict, reason = min_transformer.verdict(_min_table({base: 0.9, tiny: 0.8, half: 0.8}, params))
    assert verdict == "not reproduced" and "no reduced configuration is similar" in reason
    # A drop beyond the tolerance but within one standard error over seeds still counts as similar.
    assert min_transformer.verdict(_min_table({base: 0.9, tiny: 0.87, half: 0.8}, params, std=0.05, n=3))[0] == "reproduced"


# ---------------------------------------------------------------------------- quick runs
@pytest.mark.slow
def test_scaling_mlps_quick(tmp_path, need_data, one_thread):
    need_data("cifar10")
    result = get_claim("scaling-mlps").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert {row["augment"] for row in result.table} == {True, False}
    assert all(row["runs"] == 8 and row["cells"] == 8 for row in result.table)
    assert all(0 < r["test_error"] < 1 and r["compute"] > 0 for r in result.runs)
    assert "scaling-mlps" in result.to_markdown()


@pytest.mark.slow
def test_hourglass_quick(tmp_path, one_thread):
    result = get_claim("hourglass").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert {(row["task"], row["shape"]) for row in result.table} == {(t, s) for t in hourglass.TASKS for s in hourglass.SHAPES}
    assert all(len({r["budget"] for r in result.table if r["task"] == t}) >= 4 for t in hourglass.TASKS)
    for row in result.table:
        assert abs(row["parameters"] - row["budget"]) < 0.05 * row["budget"]
        assert (0.5 < row["quality_mean"] <= 1) if row["task"] == "digits" else (5 < row["quality_mean"] < 40)


@pytest.mark.slow
def test_min_transformer_quick(tmp_path, need_data, one_thread):
    need_data("cifar10")
    result = get_claim("min-transformer").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert len(result.table) == 18
    for dataset in min_transformer.DATASETS:
        rows = [r for r in result.table if r["dataset"] == dataset]
        base = next(r for r in rows if (r["mode"], r["variant"]) == min_transformer.BASELINE)
        assert all(r["parameters"] <= base["parameters"] for r in rows)
        assert all(0 <= r["test_accuracy_mean"] <= 1 for r in rows)
