"""The neural-field claims (neuralgs, im4d, level-s2fm): verdicts on hand-made tables and one quick run each."""

import math
import os

import pytest

from mlpzoo.claims import im4d, level_s2fm, neuralgs, run
from mlpzoo.claims.base import VERDICTS, get_budget


@pytest.fixture
def need_scene():
    """scikit-image ships the photographs these claims read: skip without it (fail when data is required)."""
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
            pytest.fail("scikit-image missing while MLPZOO_REQUIRE_DATA=1; pip install 'mlpzoo[fields]'")
        pytest.skip("scikit-image not installed; pip install 'mlpzoo[fields]'")


def _row(key, value, metric, std=0.2, n=3, **extra):
    return {key: value, "n": n, f"{metric}_mean": extra.pop("mean"), f"{metric}_std": std, **extra}


# ------------------------------------------------------------------------------------------ neuralgs
def _gs_table(ours_psnr, single_psnr, ratio=10.4, std=0.2, single_params=10_000):
    def row(method, psnr, ratio, params):
        return {
            "method": method,
            "n": 3,
            "render_psnr_mean": psnr,
            "render_psnr_std": std,
            "attribute_error_mean": 0.1,
            "attribute_error_std": 0.01,
            "size_ratio_mean": ratio,
            "size_ratio_std": 0.0,
            "parameters": params,
        }

    return [
        row("neuralgs", ours_psnr, ratio, 10_000),
        row("single_mlp", single_psnr, ratio, single_params),
        row("quantize_8bit", 45.0, 3.3, 0),
        row("pruned_only", 33.0, 1.25, 0),
    ]


def test_neuralgs_verdicts():
    assert neuralgs.verdict(_gs_table(31.0, 29.0))[0] == "reproduced"
    assert neuralgs.verdict(_gs_table(25.0, 29.0))[0] == "not reproduced"
    assert neuralgs.verdict(_gs_table(31.0, 30.9))[0] == "partly reproduced"  # inside one SE: only the 30 dB bar
    assert neuralgs.verdict(_gs_table(31.0, 29.0, ratio=8.0))[0] == "not reproduced"  # not 10x smaller
    assert neuralgs.verdict(_gs_table(31.0, 29.0, single_params=12_000))[0] == "not checkable here"


def test_neuralgs_single_run_has_no_spread():
    table = _gs_table(31.0, 30.0, std=math.nan)
    assert neuralgs.verdict(table)[0] == "reproduced"


# ------------------------------------------------------------------------------------------ im4d
def _video_table(planes_psnr, mlp_psnr, planes_speed=3e5, mlp_speed=1e5, std=0.2, mlp_params=100_000):
    def row(model, psnr, speed, params):
        return {
            "model": model,
            "n": 3,
            "psnr_at_equal_time_mean": psnr,
            "psnr_at_equal_time_std": std,
            "fit_psnr_mean": psnr,
            "fit_psnr_std": std,
            "heldout_psnr_mean": 12.0,
            "train_seconds_mean": 20.0,
            "points_per_second_mean": speed,
            "points_per_second_std": speed * 0.02,
            "seconds_to_reach_mean": 5.0,
            "parameters": params,
        }

    return [
        row("im4d_planes", planes_psnr, planes_speed, 100_000),
        row("coordinate_mlp", mlp_psnr, mlp_speed, mlp_params),
    ]


def test_im4d_verdicts():
    assert im4d.verdict(_video_table(22.0, 16.0))[0] == "reproduced"
    assert im4d.verdict(_video_table(16.0, 22.0, planes_speed=1e5, mlp_speed=3e5))[0] == "not reproduced"
    # PSNR at equal time inside one SE: faster queries (true by construction) do not lift it; speed is reported.
    verdict, reason = im4d.verdict(_video_table(22.0, 21.9))
    assert verdict == "not reproduced" and "points/s" in reason
    assert im4d.verdict(_video_table(22.0, 16.0, planes_speed=1e5, mlp_speed=3e5))[0] == "partly reproduced"
    assert im4d.verdict(_video_table(22.0, 16.0, mlp_params=110_000))[0] == "not checkable here"
    assert "reach the MLP's final PSNR after 5.0 s" in im4d.verdict(_video_table(22.0, 16.0))[1]
    never = _video_table(22.0, 16.0)
    never[0]["seconds_to_reach_mean"] = math.nan  # one seed's planes never reached it: no "nan s" in the reason
    outcome, reason = im4d.verdict(never)
    assert outcome == "reproduced" and "nan" not in reason and "in only some seeds" in reason


def test_im4d_psnr_at_equal_time_interpolates():
    curve = [[1.0, 10.0], [3.0, 20.0]]
    assert im4d.psnr_at(curve, 2.0) == 15.0 and math.isnan(im4d.psnr_at(curve, 0.5))
    assert im4d.time_to_reach(curve, 15.0) == 3.0 and math.isnan(im4d.time_to_reach(curve, 30.0))


# ------------------------------------------------------------------------------------------ level-s2fm
def _outlier_table(sdf_f1, knn_f1, sdf_ap=0.8, knn_ap=0.7, std=0.02):
    def row(method, f1, ap):
        return {
            "method": method,
            "n": 3,
            "f1_mean": f1,
            "f1_std": std,
            "precision_mean": f1,
            "recall_mean": f1,
            "average_precision_mean": ap,
            "average_precision_std": std,
        }

    return [row("sdf_level_set", sdf_f1, sdf_ap), row("knn_distance", knn_f1, knn_ap)]


def test_level_s2fm_verdicts():
    assert level_s2fm.verdict(_outlier_table(0.80, 0.70))[0] == "reproduced"
    assert level_s2fm.verdict(_outlier_table(0.60, 0.70, 0.6, 0.7))[0] == "not reproduced"
    assert level_s2fm.verdict(_outlier_table(0.71, 0.70))[0] == "partly reproduced"  # F1 tie, AP ahead
    assert level_s2fm.verdict(_outlier_table(0.71, 0.70, 0.70, 0.70))[0] == "not reproduced"  # ties throughout
    # The reason tells a tie from a loss beyond one SE.
    reason = level_s2fm.verdict(_outlier_table(0.60, 0.70, 0.6, 0.7))[1]
    assert "below it beyond 1 SE" in reason and "not beyond 1 SE" not in reason
    assert "not beyond 1 SE" in level_s2fm.verdict(_outlier_table(0.71, 0.70))[1]


def test_level_s2fm_injects_its_outlier_fraction_inside_the_box(need_scene):
    points, is_outlier = level_s2fm.points_with_outliers(level_s2fm.SPEC.settings["quick"], seed=0)
    assert points.shape[1] == 3 and 0.13 < is_outlier.mean() < 0.17
    assert points.abs().max() <= 0.9 + 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("paper_id", ["neuralgs", "im4d", "level-s2fm"])
def test_quick_run(paper_id, need_scene, tmp_path):
    result = run(paper_id, get_budget("quick"), None, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS and result.table
    assert any((tmp_path / "claims" / paper_id / "work").rglob("*.png")), "the claim leaves its pictures"
