"""scaling-mlps, hourglass and min-transformer: verdicts on hand-made tables, helpers, and one quick run each."""

import math
import os

import numpy as np
import pytest
import torch

from mlpzoo import claims
from mlpzoo.claims import get_claim, hourglass, min_transformer, scaling_mlps
from mlpzoo.claims.base import VERDICTS, get_budget
from mlpzoo.data.images import (
    FASHION_MNIST_DIR,
    ImageData,
    fashion_mnist_dir,
    load_fashion_mnist,
)
from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import DataMissingError


def need_fashion_mnist() -> None:
    """Skip when Fashion-MNIST is missing; fail instead under MLPZOO_REQUIRE_DATA=1 (as ``need_data`` does)."""
    try:
        load_fashion_mnist("test")
    except DataMissingError as err:
        if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
            pytest.fail(f"Fashion-MNIST missing while MLPZOO_REQUIRE_DATA=1: {err}")
        pytest.skip(f"Fashion-MNIST missing: {err}")


def test_fashion_mnist_dir_prefers_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPZOO_FASHION_MNIST", str(tmp_path / "env"))
    assert fashion_mnist_dir(tmp_path) == tmp_path / "env"  # no fashion-mnist folder in the data directory
    (tmp_path / "fashion-mnist").mkdir()
    assert fashion_mnist_dir(tmp_path) == tmp_path / "fashion-mnist"
    monkeypatch.setenv("MLPZOO_DATA", str(tmp_path))
    assert fashion_mnist_dir() == tmp_path / "fashion-mnist"
    monkeypatch.delenv("MLPZOO_FASHION_MNIST")
    assert str(fashion_mnist_dir(tmp_path / "elsewhere")) == FASHION_MNIST_DIR
    with pytest.raises(DataMissingError, match="fashion-mnist"):  # the empty folder is the one read
        load_fashion_mnist("test")


# ---------------------------------------------------------------------------- scaling-mlps
def test_frontier_and_power_law_fit():
    points = [(10.0**k, 2.0 * 10.0 ** (-0.3 * k)) for k in range(1, 6)] + [(1e3, 0.9), (1e5, 0.5)]
    kept = scaling_mlps.frontier(points)
    assert [c for c, _ in kept] == [10.0**k for k in range(1, 6)]
    fit = scaling_mlps.power_law(kept)
    assert fit["exponent"] == pytest.approx(0.3) and fit["r2"] == pytest.approx(1.0)
    assert math.isnan(scaling_mlps.power_law(kept[:2])["exponent"])


def _scaling_runs(error, aug_gap, seeds=(0,)):
    """Three cells a decade of compute apart, three epochs each; the augmented error is ``error(compute)``,
    the plain one ``aug_gap`` (plus a little per cell) above it."""
    runs = []
    for seed in seeds:
        for cell, width in enumerate((16, 32, 64)):
            for epoch in (1, 2, 3):
                compute = 1e9 * 10**cell * epoch
                for augment in (True, False):
                    value = error(compute) * (1 + 0.01 * seed) + (0.0 if augment else aug_gap + 0.001 * cell)
                    runs.append({"width": width, "depth": 1, "fraction": 1.0, "seed": seed, "augment": augment,
                                 "epoch": epoch, "compute": compute, "test_error": value})
    return runs


def power(c):
    return 5.0 * c**-0.1


def saturating(c):
    return 0.3 + 0.6 * np.exp(-c / 3e10)


def test_scaling_verdicts():
    assert scaling_mlps.verdict(scaling_mlps.tabulate(_scaling_runs(power, 0.05)))[0] == "reproduced"
    assert scaling_mlps.verdict(scaling_mlps.tabulate(_scaling_runs(power, -0.05)))[0] == "partly reproduced"
    rising = scaling_mlps.tabulate(_scaling_runs(lambda c: 0.01 * c**0.05, -0.05))  # error grows with compute, augmentation hurts
    verdict, reason = scaling_mlps.verdict(rising)
    assert verdict == "not reproduced" and "too few" in reason


def test_scaling_power_law_must_hold_out_of_sample():
    # A saturating curve fits a power law well in sample but does not extrapolate: the law fails,
    # and augmentation still helps, so the claim is partly reproduced.
    runs = _scaling_runs(saturating, 0.05)
    kept = scaling_mlps.frontier([(r["compute"], r["test_error"]) for r in runs if r["augment"]])
    assert scaling_mlps.power_law(kept)["r2"] > 0.9
    table = scaling_mlps.tabulate(runs)
    augmented = next(row for row in table if row["augment"])
    assert augmented["held_out_points"] == 3 and augmented["prediction_error"] > scaling_mlps.MAX_PREDICTION_ERROR
    verdict, reason = scaling_mlps.verdict(table)
    assert verdict == "partly reproduced" and "does not hold" in reason and "helps" in reason
    # The same curve without an augmentation gap: nothing of the claim is left.
    assert scaling_mlps.verdict(scaling_mlps.tabulate(_scaling_runs(saturating, -0.05)))[0] == "not reproduced"
    # A nearly flat, noisy frontier is predicted well by any flat line: the fit's R^2 must also be high
    # (the quick budget's numbers: b 0.051, R^2 0.36, held-out error 5.8 %).
    flat = scaling_mlps.tabulate(_scaling_runs(power, 0.05))
    flat[0].update(exponent=0.051, r2=0.36, prediction_error=0.058)
    assert flat[0]["augment"] and scaling_mlps.verdict(flat)[0] == "partly reproduced"


def test_scaling_seeds_are_averaged_before_the_frontier():
    table = scaling_mlps.tabulate(_scaling_runs(power, 0.05, seeds=(0, 1, 2)))
    augmented = next(row for row in table if row["augment"])
    assert augmented["frontier_points"] == 9 and augmented["cells"] == 9 and augmented["runs"] == 9
    assert augmented["prediction_error"] < 1e-9  # the seed offsets are a constant factor: still an exact power law


# ---------------------------------------------------------------------------- hourglass
def _hourglass_table(diffs_by_task, std=math.nan, n=1, parameters=None, candidates=(2, 2)):
    rows = []
    for task, diffs in diffs_by_task.items():
        for budget, diff in zip((1000, 2000, 3000, 4000), diffs):
            for shape, quality, searched in (("conventional", 0.9, candidates[0]), ("hourglass", 0.9 + diff, candidates[1])):
                rows.append({"task": task, "shape": shape, "budget": budget, "n": n, "quality_mean": quality,
                             "quality_std": std, "parameters": float(parameters or budget), "candidates": searched})
    return rows


def test_hourglass_verdicts():
    win, lose = (0.01, 0.02, 0.0, 0.03), (0.01, -0.02, 0.02, 0.03)
    assert hourglass.verdict(_hourglass_table({"digits": win, "fashion_denoise": win}))[0] == "reproduced"
    assert hourglass.verdict(_hourglass_table({"digits": lose, "fashion_denoise": win}))[0] == "partly reproduced"
    assert hourglass.verdict(_hourglass_table({"digits": lose, "fashion_denoise": lose}))[0] == "not reproduced"
    # A loss inside one standard error counts as no worse; a tie everywhere is not domination.
    assert hourglass.verdict(_hourglass_table({"digits": lose}, std=0.05, n=3))[0] == "not reproduced"
    assert hourglass.verdict(_hourglass_table({"digits": (0.1, -0.02, 0.1, 0.1)}, std=0.05, n=3))[0] == "reproduced"


def test_hourglass_verdict_needs_matched_parameters():
    win = (0.01, 0.02, 0.0, 0.03)
    outcome, reason = hourglass.verdict(_hourglass_table({"digits": win}, parameters=3000))
    assert outcome == "not reproduced" and "not within 5%" in reason


def test_hourglass_cannot_win_over_an_undertrained_conventional_mlp():
    win = (0.5, 0.5, 0.5, 0.5)
    rows = _hourglass_table({"fashion_denoise": win})
    for row in rows:
        row["linear_quality"] = 1.0  # the least-squares linear map beats the conventional MLP (0.9) everywhere
    outcome, reason = hourglass.verdict(rows)
    assert outcome == "not reproduced" and "undertrained, not beaten" in reason
    for row in rows:
        row["linear_quality"] = 0.5
    assert hourglass.verdict(rows)[0] == "reproduced"


def test_hourglass_linear_denoiser_reference():
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(400, 16, generator=generator)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=generator)
    pairs = ArrayData(noisy, clean)
    psnr = hourglass.linear_denoiser_psnr((pairs, pairs, pairs))
    assert 10 * math.log10(1 / 0.01) < psnr < 60  # better than the noisy input (20 dB), not perfect


def test_hourglass_cannot_win_with_a_larger_search():
    win = (0.01, 0.02, 0.0, 0.03)
    outcome, reason = hourglass.verdict(_hourglass_table({"digits": win}, candidates=(1, 3)))
    assert outcome == "not reproduced" and "searched 3 candidates" in reason
    assert hourglass.verdict(_hourglass_table({"digits": win}, candidates=(3, 3)))[0] == "reproduced"


@pytest.mark.parametrize("budget_name", ["quick", "full", "gpu"])
def test_hourglass_budget_matching(budget_name):
    for task in hourglass.TASKS:
        settings = hourglass.SPEC.settings[budget_name][task]
        features = 64 if task == "digits" else (28 // settings["pool"]) ** 2
        for budget in settings["budgets"]:
            for shape in hourglass.SHAPES:
                options = hourglass.candidates(shape, task, settings, features, 10 if task == "digits" else features, budget)
                assert options, (task, shape, budget)
                for dim, hidden, depth in options:
                    with torch.device("meta"):
                        model = hourglass.build(shape, task, features, 10 if task == "digits" else features, dim, hidden,
                                                depth, 0)
                    assert abs(hourglass.trainable(model) - budget) <= hourglass.MATCH_TOLERANCE * budget
                    assert (hidden < dim) if shape == "hourglass" else (hidden > dim)


# ---------------------------------------------------------------------------- min-transformer
def _min_table(accuracy, params, std=math.nan, n=1, valid=None):
    rows = []
    for dataset in ("fashion_mnist", "cifar10"):
        for (mode, variant), acc in accuracy.items():
            rows.append({"dataset": dataset, "mode": mode, "variant": variant, "n": n, "test_accuracy_mean": acc,
                         "test_accuracy_std": std, "valid_accuracy_mean": (valid or accuracy)[(mode, variant)],
                         "valid_accuracy_std": std, "parameters": params[(mode, variant)]})
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


def test_min_transformer_undertrained_baseline_proves_nothing():
    base, tiny, half = min_transformer.BASELINE, ("symmetric", "1 head, no MLP"), ("collapsed", "4 heads, MLP")
    params = {base: 100_000, tiny: 8_000, half: 45_000}
    rows = _min_table({base: 0.3, tiny: 0.3, half: 0.3}, params)
    for row in rows:
        row["linear_accuracy"] = 0.35  # a ridge classifier on pixels beats the baseline transformer
    verdict, reason = min_transformer.verdict(rows)
    assert verdict == "not reproduced" and "undertrained" in reason
    for row in rows:
        row["linear_accuracy"] = 0.25
    assert min_transformer.verdict(rows)[0] == "reproduced"


def test_min_transformer_linear_classifier_learns():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 10
    images = torch.randint(0, 60, (200, 1, 4, 4), generator=generator)
    images.view(200, 16)[torch.arange(200), labels] += 150  # one bright pixel per class: linearly separable
    data = ImageData(images.to(torch.uint8), labels)
    assert min_transformer.linear_classifier(data, data, data)["accuracy"] > 0.9


def test_min_transformer_configuration_is_chosen_on_validation():
    base, tiny, half = min_transformer.BASELINE, ("symmetric", "1 head, no MLP"), ("collapsed", "4 heads, MLP")
    params = {base: 100_000, tiny: 8_000, half: 45_000}
    # Similar on test, but not on validation: not chosen, so its saving does not count.
    valid = {base: 0.9, tiny: 0.85, half: 0.9}
    verdict, reason = min_transformer.verdict(_min_table({base: 0.9, tiny: 0.9, half: 0.9}, params, valid=valid))
    assert verdict == "partly reproduced" and "collapsed / 4 heads, MLP" in reason
    # Chosen on validation, then not similar on test: the test is read once, no second choice.
    valid = {base: 0.9, tiny: 0.9, half: 0.9}
    verdict, reason = min_transformer.verdict(_min_table({base: 0.9, tiny: 0.8, half: 0.9}, params, valid=valid))
    assert verdict == "not reproduced" and "not similar on test" in reason


# ---------------------------------------------------------------------------- quick runs
@pytest.mark.slow
def test_scaling_mlps_quick(tmp_path, need_data):
    need_data("cifar10")
    result = get_claim("scaling-mlps").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert {row["augment"] for row in result.table} == {True, False}
    assert all(row["runs"] == 8 and row["cells"] == 8 for row in result.table)
    assert all(0 < r["test_error"] < 1 and r["compute"] > 0 for r in result.runs)
    assert "scaling-mlps" in result.to_markdown()


def test_seeds_follow_the_settings_unless_given(monkeypatch):
    """--seeds (get_budget(..., seeds)) overrides the settings' seed count; the stock budget keeps it."""
    monkeypatch.setattr(scaling_mlps, "load_cifar10", lambda split, data_dir, limit_per_class: (torch.zeros(10, 3, 32, 32), torch.arange(10)))
    monkeypatch.setattr(scaling_mlps, "fit_cell", lambda *args: [
        {"width": args[4], "depth": args[5], "fraction": args[6], "augment": args[7], "seed": args[8], "epoch": 1,
         "compute": 1e9, "test_error": 0.5}])
    assert scaling_mlps.run(get_budget("quick"), log=lambda s: None).seeds == [0]
    assert scaling_mlps.run(get_budget("quick", seeds=3), log=lambda s: None).seeds == [0, 1, 2]


@pytest.mark.slow
def test_hourglass_quick(tmp_path):
    need_fashion_mnist()
    result = claims.run("hourglass", get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS and result.seeds == [0]
    assert {(row["task"], row["shape"]) for row in result.table} == {(t, s) for t in hourglass.TASKS for s in hourglass.SHAPES}
    assert all(len({r["budget"] for r in result.table if r["task"] == t}) >= 4 for t in hourglass.TASKS)
    for row in result.table:
        assert abs(row["parameters"] - row["budget"]) < 0.05 * row["budget"]
        assert (0.5 < row["quality_mean"] <= 1) if row["task"] == "digits" else (5 < row["quality_mean"] < 40)
    searched = {(r["task"], r["budget"], r["shape"]): r["candidates"] for r in result.table}
    assert all(searched[(t, b, "hourglass")] == searched[(t, b, "conventional")] for t, b, _ in searched)


@pytest.mark.slow
def test_min_transformer_quick(tmp_path, need_data):
    need_data("cifar10")
    need_fashion_mnist()
    result = claims.run("min-transformer", get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert len(result.table) == 18
    for dataset in min_transformer.DATASETS:
        rows = [r for r in result.table if r["dataset"] == dataset]
        base = next(r for r in rows if (r["mode"], r["variant"]) == min_transformer.BASELINE)
        assert all(r["parameters"] <= base["parameters"] for r in rows)
        assert all(0 <= r["test_accuracy_mean"] <= 1 and 0 <= r["valid_accuracy_mean"] <= 1 for r in rows)
