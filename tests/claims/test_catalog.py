"""Tests for the packaged paper catalog and the latest-verdict scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.table import Table

from mlpzoo.claims.catalog import (
    FAMILIES,
    catalog_rows,
    get_paper,
    latest_verdicts,
    load_catalog,
    render_markdown,
    render_rich,
)
from mlpzoo.errors import ConfigError

# The ids of PAPERS.md, in its order.
EXPECTED_IDS = [
    "finalmlp", "din", "hourglass", "scaling-mlps", "raftmlp", "strip-mlp", "ms-mlp", "dsm",
    "min-transformer", "ninformer", "maxim", "spartan", "efficientmod", "dhvt", "kat", "flashkat",
    "s-kan", "af-kan", "kan-hea", "ff-g2m", "mowst", "elliptic-aml", "gpd", "atm-chaos", "mamba",
    "flow-omni", "diffusion-link", "cqmlp", "grokking-tickets", "hypernetworks", "zaya1", "mentor",
    "armorm", "scalekd", "swinchex", "dn-piqa", "emlp", "neuralgs", "im4d", "level-s2fm", "ospo",
    "img-text-match", "mvp",
]  # fmt: skip
OLD, NEW = "2024-05-01T10:00:00+00:00", "2024-05-02T09:00:00+00:00"


def _write_result(runs: Path, paper_id: str, run: str, **fields: object) -> None:
    path = runs / "claims" / paper_id / run / "result.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"paper_id": paper_id, **fields}))


def test_catalog_has_the_43_papers_in_order() -> None:
    catalog = load_catalog()
    assert [p.id for p in catalog] == EXPECTED_IDS
    assert len({p.id for p in catalog}) == 43
    for paper in catalog:
        assert paper.title and paper.build and paper.claim and paper.data
        assert paper.family in FAMILIES
        assert paper.year is None or isinstance(paper.year, int)


def test_catalog_fields() -> None:
    finalmlp = get_paper("finalmlp")
    assert finalmlp.title == "FinalMLP: An Enhanced Two-Stream MLP Model for CTR Prediction"
    assert finalmlp.venue == "AAAI 2023" and finalmlp.year == 2023
    assert finalmlp.family == "ctr"
    assert get_paper("din").venue == "KDD 2018"
    assert get_paper("mamba").venue is None


def test_get_paper_unknown_suggests_close_match() -> None:
    with pytest.raises(ConfigError) as excinfo:
        get_paper("finalmpl")
    message = str(excinfo.value)
    assert "'finalmlp'" in message
    assert "run 'mlpzoo papers' for the list" in message
    assert "\n" not in message


def test_latest_verdicts_picks_newest_and_skips_corrupt(tmp_path: Path) -> None:
    _write_result(tmp_path, "din", "a", verdict="not reproduced", finished_at=OLD, budget="quick")
    _write_result(tmp_path, "din", "b", verdict="reproduced", finished_at=NEW, budget="full")
    corrupt = tmp_path / "claims" / "din" / "c" / "result.json"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text("{not json")
    _write_result(tmp_path, "mamba", "x", verdict="partly", finished_at=OLD, budget="quick")

    verdicts = latest_verdicts(tmp_path)
    assert set(verdicts) == {"din", "mamba"}
    assert verdicts["din"]["verdict"] == "reproduced"
    assert verdicts["din"]["budget"] == "full"


def test_latest_verdicts_without_runs(tmp_path: Path) -> None:
    assert latest_verdicts(tmp_path / "missing") == {}


def test_catalog_rows_and_rendering(tmp_path: Path) -> None:
    _write_result(tmp_path, "din", "a", verdict="reproduced", finished_at=OLD, budget="quick")
    rows = catalog_rows(tmp_path, models_by_paper={"din": ["din_base", "din"]}, claim_ids={"din", "scaling-mlps"})
    assert [r["id"] for r in rows] == EXPECTED_IDS
    by_id = {r["id"]: r for r in rows}
    assert by_id["din"]["verdict"] == "reproduced" and by_id["din"]["verdict_budget"] == "quick"
    assert by_id["din"]["has_claim"] and not by_id["mvp"]["has_claim"]
    assert by_id["mvp"]["verdict"] == "-" and by_id["mvp"]["models"] == []
    assert by_id["din"]["models"] == ["din", "din_base"]

    lines = render_markdown(rows).strip().splitlines()
    assert lines[0] == "| id | paper | models built | claim module | last verdict |"
    data_lines = lines[2:]
    assert len(data_lines) == 43
    assert data_lines[1].startswith("| din |") and "reproduced (quick)" in data_lines[1] and "din, din_base" in data_lines[1]
    assert "claims.scaling_mlps" in data_lines[3]

    table = render_rich(rows)
    assert isinstance(table, Table) and table.row_count == 43
