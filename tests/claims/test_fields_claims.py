"""The neural-field claims (neuralgs, im4d, level-s2fm): verdicts on hand-made tables and one quick run each."""

import math
import os

import pytest

from mlpzoo.claims import neuralgs, run
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


@pytest.mark.slow
@pytest.mark.parametrize("paper_id", ["neuralgs"])
def test_quick_run(paper_id, need_scene, tmp_path):
    result = run(paper_id, get_budget("quick"), None, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS and result.table
    assert any((tmp_path / "claims" / paper_id / "work").rglob("*.png")), "the claim leaves its pictures"
