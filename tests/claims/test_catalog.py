"""Tests for the packaged paper catalog and the papers table built on it (mlpzoo.claims.papers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.table import Table

from mlpzoo.claims.catalog import FAMILIES, get_paper, load_catalog
from mlpzoo.claims.ledger import source_hash
from mlpzoo.claims.papers import catalog_rows, latest_verdicts, render_markdown, render_rich
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
    rows = catalog_rows(
        tmp_path,
        models_by_paper={"din": ["din_base", "din"]},
        claim_ids={"din", "scaling-mlps"},
        results_dir=tmp_path / "no-ledger",
    )
    assert [r["id"] for r in rows] == EXPECTED_IDS
    by_id = {r["id"]: r for r in rows}
    assert by_id["din"]["verdict"] == "reproduced" and by_id["din"]["verdict_budget"] == "quick"
    assert by_id["din"]["source"] == "local run" and not by_id["din"]["stale"]  # no code hash recorded: cannot tell
    assert by_id["din"]["has_claim"] and not by_id["mvp"]["has_claim"]
    assert by_id["mvp"]["verdict"] == "-" and by_id["mvp"]["models"] == [] and by_id["mvp"]["ours"] == "-"
    assert by_id["din"]["models"] == ["din", "din_base"]

    lines = render_markdown(rows).strip().splitlines()
    assert lines[0] == "| id | paper | models built | claim module | verdict | ours | paper's |"
    data_lines = lines[2:]
    assert len(data_lines) == 43
    assert data_lines[1].startswith("| din |") and "reproduced (quick) |" in data_lines[1]
    assert "din, din_base" in data_lines[1]
    assert "claims.scaling_mlps" in data_lines[3]

    table = render_rich(rows)
    assert isinstance(table, Table) and table.row_count == 43


def _ledger_entry(results: Path, paper_id: str, **fields: object) -> None:
    entry = {
        "paper_id": paper_id,
        "budget": "full",
        "seeds": [0, 1, 2],
        "verdict": "not reproduced",
        "reason": "r",
        "code_hash": source_hash(paper_id),
        "environment": {},
        "finished_at": OLD,
        "seconds": 600.0,
        "paper_numbers": {"Table 2": "FinalMLP 0.9861"},
        "table": [{"model": "finalmlp", "n": 3, "test_auc_mean": 0.97, "test_auc_std": 0.001}],
        **fields,
    }
    path = results / "claims" / f"{paper_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry))


def test_rows_show_the_ledger_entry_with_our_number_and_the_papers(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _ledger_entry(results, "finalmlp")
    _write_result(tmp_path / "runs", "finalmlp", "a", verdict="reproduced", finished_at=NEW, budget="quick")
    row = {r["id"]: r for r in catalog_rows(tmp_path / "runs", {}, {"finalmlp"}, results)}["finalmlp"]
    # A newer quick run is a smoke test: the ledger's full-budget verdict stays.
    shown = (row["verdict"], row["verdict_budget"], row["source"], row["stale"])
    assert shown == ("not reproduced", "full", "ledger", False)
    assert row["ours"] == "test_auc: finalmlp 0.9700 ± 0.0010"
    assert row["paper"] == "FinalMLP 0.9861 (Table 2)"
    line = render_markdown([row]).splitlines()[2]
    assert "| not reproduced (full, ledger) | test_auc: finalmlp 0.9700 ± 0.0010 | FinalMLP 0.9861 (Table 2) |" in line


def test_rows_prefer_a_newer_full_local_run_and_flag_stale_code(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _ledger_entry(results, "finalmlp", code_hash="0123456789abcdef")
    stale = {r["id"]: r for r in catalog_rows(tmp_path / "runs", {}, {"finalmlp"}, results)}["finalmlp"]
    assert stale["stale"] and "| not reproduced (full, ledger, stale) |" in render_markdown([stale])

    _write_result(
        tmp_path / "runs",
        "finalmlp",
        "b",
        verdict="reproduced",
        finished_at=NEW,
        budget="full",
        code_hash=source_hash("finalmlp"),
        table=[],
    )
    _write_result(
        tmp_path / "runs", "finalmlp", "c", verdict="not reproduced", finished_at="2030-01-01", budget="quick"
    )
    row = {r["id"]: r for r in catalog_rows(tmp_path / "runs", {}, {"finalmlp"}, results)}["finalmlp"]
    assert (row["verdict"], row["source"], row["stale"]) == ("reproduced", "local run", False)
    assert "| reproduced (full) |" in render_markdown([row])


def test_latest_verdicts_evidence_first(tmp_path: Path) -> None:
    _write_result(tmp_path, "din", "a", verdict="reproduced", finished_at=OLD, budget="full")
    _write_result(tmp_path, "din", "b", verdict="not reproduced", finished_at=NEW, budget="quick")
    assert latest_verdicts(tmp_path)["din"]["budget"] == "quick"
    assert latest_verdicts(tmp_path, evidence_first=True)["din"]["budget"] == "full"
