"""The verdict ledger cannot lie: checks on every committed entry, and on the machinery with hand-made ones."""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlpzoo.claims import get_claim, implemented_claims
from mlpzoo.claims.base import ClaimResult, code_hash
from mlpzoo.claims.ledger import (
    RERUN,
    check_entry,
    default_results_dir,
    is_stale,
    load_entry,
    missing_entries,
    missing_files,
    our_number,
    paper_number,
    read_entries,
    reapply_verdict,
    record,
)
from mlpzoo.errors import ConfigError

LEDGER = Path(__file__).resolve().parents[2] / "results"
COMMITTED = sorted(LEDGER.glob("claims/*.json"))

# A claim module in miniature: A beats B beyond one standard error -> reproduced.
TINY_CLAIM = """
from mlpzoo.claims.base import ClaimSpec, compare

SPEC = ClaimSpec(claim="A beats B.", settings={"quick": {}, "full": {}}, seeds={"quick": 1, "full": 3},
                 paper_numbers={"Table 1": "A 0.90, B 0.80"})


def verdict(table):
    rows = {row["model"]: row for row in table}
    lead = compare(rows["a"], rows["b"], "acc")
    return ("reproduced" if lead.wins else "not reproduced"), f"A vs B {lead}"
"""


def _tiny_module(folder: Path, source: str = TINY_CLAIM):
    path = folder / "tiny_claim.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"tiny_claim_{abs(hash(str(folder)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(a: float = 0.9, b: float = 0.8) -> list[dict]:
    return [
        {"model": "a", "n": 3, "acc_mean": a, "acc_std": 0.01},
        {"model": "b", "n": 3, "acc_mean": b, "acc_std": 0.01},
    ]


def _result(module, budget: str = "full", table: list[dict] | None = None, seeds=(0, 1, 2), **overrides) -> ClaimResult:
    table = table if table is not None else _table()
    verdict, reason = module.verdict(table)
    fields = {
        "paper_id": "tiny",
        "title": "Tiny (2024)",
        "claim": module.SPEC.claim,
        "budget": budget,
        "seeds": list(seeds),
        "runs": [{"model": "a", "seed": 0, "acc": 0.9}],
        "table": table,
        "verdict": verdict,
        "reason": reason,
        "paper_numbers": dict(module.SPEC.paper_numbers),
        "finished_at": "2026-01-01T00:00:00+00:00",
        "seconds": 61.5,
        "code_hash": code_hash(module),
        "environment": {"cores": 2, "cpu": "test", "torch": "2.13", "commit": "abc"},
    }
    return ClaimResult(**{**fields, **overrides})


# --- Every committed entry ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_committed_entry_holds(path: Path) -> None:
    """Its stored verdict is what the claim's verdict gives on its stored table, at the full budget, on current code."""
    entry = load_entry(path)
    assert check_entry(entry) == []
    assert missing_files(path, entry) == [], f"re-record it: {RERUN}"


def test_every_implemented_claim_has_a_full_budget_entry() -> None:
    missing = missing_entries(LEDGER)
    if missing and not os.environ.get("MLPZOO_LEDGER_COMPLETE"):
        pytest.skip(
            f"no full-budget ledger entry yet for {len(missing)} claim(s): {', '.join(missing)} "
            "(set MLPZOO_LEDGER_COMPLETE=1 to make this a failure)"
        )
    assert missing == [], f"implemented claims without a full-budget entry: {', '.join(missing)}"


def test_the_ledger_is_the_repository_results_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLPZOO_RESULTS", raising=False)
    assert default_results_dir().resolve() == LEDGER
    monkeypatch.setenv("MLPZOO_RESULTS", str(tmp_path))
    assert default_results_dir() == tmp_path


# --- Recording ------------------------------------------------------------------------------------------


def test_record_writes_a_checkable_entry_with_report_and_plots(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.md").write_text("# the run's report\n")
    (run / "curve.png").write_bytes(b"\x89PNG small")
    (run / "huge.png").write_bytes(b"0" * 500_000)
    path = record(_result(module), tmp_path / "results", run_folder=run, module=module)

    assert path == tmp_path / "results" / "claims" / "tiny.json"
    entry = load_entry(path)
    assert entry["verdict"] == "reproduced" and entry["budget"] == "full" and entry["seeds"] == [0, 1, 2]
    assert entry["table"] == _table() and entry["paper_numbers"] == {"Table 1": "A 0.90, B 0.80"}
    assert (
        entry["code_hash"] == code_hash(module) and entry["environment"]["commit"] == "abc" and entry["seconds"] == 61.5
    )
    assert entry["files"] == ["curve.png", "evidence.png", "report.md"]  # the oversized plot stays behind
    folder = tmp_path / "results" / "claims" / "tiny"
    assert (folder / "report.md").read_text() == "# the run's report\n"
    assert (folder / "evidence.png").read_bytes()[:4] == b"\x89PNG" and not (folder / "huge.png").exists()
    assert check_entry(entry, module) == [] and missing_files(path, entry) == []
    assert read_entries(tmp_path / "results") == {"tiny": entry}
    (folder / "curve.png").unlink()
    assert missing_files(path, entry) == ["curve.png"]


def test_record_takes_the_plots_the_claim_wrote_while_it_ran(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    now = datetime.now(timezone.utc)
    claim_dir = tmp_path / "runs" / "claims" / "tiny"
    (claim_dir / "work").mkdir(parents=True)
    (claim_dir / "curves-1.png").write_bytes(b"\x89PNG curves")
    (claim_dir / "work" / "pareto.png").write_bytes(b"\x89PNG front")
    old = claim_dir / "curves-0.png"
    old.write_bytes(b"\x89PNG an earlier run")
    os.utime(old, (now.timestamp() - 3600, now.timestamp() - 3600))
    result = _result(
        module,
        started_at=(now - timedelta(seconds=30)).isoformat(),
        finished_at=(now + timedelta(seconds=30)).isoformat(),
    )
    entry = load_entry(record(result, tmp_path / "results", module=module, runs_dir=tmp_path / "runs"))
    assert entry["files"] == ["curves-1.png", "evidence.png", "pareto.png", "report.md"]


def test_record_again_replaces_the_old_plots(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "old.png").write_bytes(b"\x89PNG")
    record(_result(module), tmp_path / "results", run_folder=run, module=module)
    record(_result(module), tmp_path / "results", module=module)
    assert not (tmp_path / "results" / "claims" / "tiny" / "old.png").exists()
    assert (tmp_path / "results" / "claims" / "tiny" / "report.md").read_text().startswith("# tiny: Tiny (2024)")


def test_record_refuses_quick_and_gpu_budgets(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    with pytest.raises(ConfigError, match="smoke test, not evidence"):
        record(_result(module, budget="quick", seeds=(0,)), tmp_path, module=module)
    with pytest.raises(ConfigError, match="'gpu'-budget result is not the budget the ledger records"):
        record(_result(module, budget="gpu"), tmp_path, module=module)
    assert not (tmp_path / "claims").exists()


def test_record_refuses_fewer_seeds_than_declared(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    with pytest.raises(ConfigError, match="1 seed\\(s\\) but the full budget declares 3"):
        record(_result(module, seeds=(0,)), tmp_path, module=module)


def test_record_refuses_a_verdict_the_table_does_not_give(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    with pytest.raises(ConfigError, match="pure function"):
        record(_result(module, verdict="not reproduced"), tmp_path, module=module)


def test_record_refuses_a_run_on_other_code(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    with pytest.raises(ConfigError, match="changed since this run started"):
        record(_result(module, code_hash="0123456789abcdef"), tmp_path, module=module)


def test_record_refuses_a_claim_off_the_protocol(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for source in ("SPEC = None\n", TINY_CLAIM.replace("def verdict", "def judge")):
        with pytest.raises(ConfigError, match="not on the declared claim protocol"):
            record(_result(_tiny_module(tmp_path)), tmp_path, module=_tiny_module(legacy, source))


# --- Checking entries: each of these must fail ------------------------------------------------------------


def _recorded(tmp_path: Path, module) -> tuple[Path, dict]:
    path = record(_result(module), tmp_path / "results", module=module)
    return path, load_entry(path)


def test_check_catches_an_edited_verdict(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    _, entry = _recorded(tmp_path, module)
    entry["verdict"] = "partly reproduced"
    assert any(
        "stored verdict 'partly reproduced' but verdict(table) gives 'reproduced'" in p
        for p in check_entry(entry, module)
    )


def test_check_catches_an_edited_table(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    _, entry = _recorded(tmp_path, module)
    entry["table"] = _table(a=0.8, b=0.9)  # the evidence now says B wins
    assert reapply_verdict(entry, module)[0] == "not reproduced"
    assert any("stored verdict" in p for p in check_entry(entry, module))


def test_check_catches_an_edited_reason(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    _, entry = _recorded(tmp_path, module)
    entry["reason"] = "A crushes B"
    assert any("stored reason differs" in p for p in check_entry(entry, module))


def test_check_catches_a_quick_entry(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    path, entry = _recorded(tmp_path, module)
    entry["budget"] = "quick"
    path.write_text(json.dumps(entry))
    assert any("made at the 'quick' budget" in p for p in check_entry(load_entry(path), module))


def test_check_catches_a_stale_entry(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    _, entry = _recorded(tmp_path, module)
    assert not is_stale(entry, module)
    changed = _tiny_module(tmp_path, TINY_CLAIM + "\n# a changed threshold\n")
    assert is_stale(entry, changed)
    assert any("stale" in p for p in check_entry(entry, changed))


def test_check_catches_a_verdict_that_cannot_read_its_table(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    _, entry = _recorded(tmp_path, module)
    entry["table"] = [entry["table"][0]]  # B's row lost
    assert any("fails on the stored table: KeyError" in p for p in check_entry(entry, module))


def test_stale_against_the_real_claim_module(tmp_path: Path) -> None:
    claim = implemented_claims()[0]
    entry = {"paper_id": claim, "code_hash": code_hash(get_claim(claim))}
    assert not is_stale(entry)
    assert is_stale({**entry, "code_hash": "0" * 16})


# --- Reading ------------------------------------------------------------------------------------------


def test_load_entry_names_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "claims" / "tiny.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"paper_id": "tiny", "budget": "full"}))
    with pytest.raises(ConfigError, match="lacks seeds, table, verdict"):
        load_entry(path)
    path.write_text("{half")
    with pytest.raises(ConfigError, match="not a readable ledger entry"):
        load_entry(path)
    assert read_entries(tmp_path) == {}
    with pytest.raises(ConfigError):
        read_entries(tmp_path, strict=True)


def test_load_entry_refuses_a_misnamed_file(tmp_path: Path) -> None:
    module = _tiny_module(tmp_path)
    path, _ = _recorded(tmp_path, module)
    moved = path.with_name("other.json")
    path.rename(moved)
    with pytest.raises(ConfigError, match="named after its claim id"):
        load_entry(moved)


def test_missing_entries_lists_claims_without_full_entries(tmp_path: Path) -> None:
    claims = implemented_claims()
    assert missing_entries(tmp_path) == claims
    first = tmp_path / "claims" / f"{claims[0]}.json"
    first.parent.mkdir(parents=True)
    base = {
        "paper_id": claims[0],
        "seeds": [0],
        "table": [],
        "verdict": "reproduced",
        "reason": "",
        "code_hash": "",
        "environment": {},
        "finished_at": "x",
        "seconds": 1.0,
    }
    first.write_text(json.dumps({**base, "budget": "quick"}))
    assert missing_entries(tmp_path) == claims  # a quick entry is no entry
    first.write_text(json.dumps({**base, "budget": "full"}))
    assert missing_entries(tmp_path) == claims[1:]


# --- Our number and the paper's ---------------------------------------------------------------------------


def test_our_number_and_paper_number() -> None:
    table = [
        {"dataset": "frappe", "model": m, "n": 3, "test_auc_mean": v, "test_auc_std": 0.001}
        for m, v in [("finalmlp", 0.97), ("dualmlp", 0.96), ("dcn", 0.95), ("deepfm", 0.94), ("dnn", 0.93)]
    ]
    text = our_number(table)
    assert text.startswith("test_auc: frappe / finalmlp 0.9700 ± 0.0010; frappe / dualmlp 0.9600")
    assert text.endswith("(+1 more rows)") and "dnn" not in text
    assert our_number([{"model": "a", "n": 1, "acc_mean": 0.5, "acc_std": float("nan")}]) == "acc: a 0.5000"
    assert our_number([]) == "-"
    calibration = {"kind": "calibration", "model": "finalmlp", "paper_mean": 0.9861, "ours_mean": 0.97, "gap_sd": -3.0}
    assert our_number([calibration, *table[:1]]) == "test_auc: frappe / finalmlp 0.9700 ± 0.0010"

    class Custom:
        @staticmethod
        def headline(rows):
            return f"{len(rows)} rows"

    assert our_number(table, Custom) == "5 rows"
    assert paper_number({"Table 2": "FinalMLP 0.9861"}) == "FinalMLP 0.9861 (Table 2)"
    assert paper_number({}) == "-"


# --- End to end: a real run of a claim in miniature, recorded and checked --------------------------------------


@pytest.mark.slow
def test_a_real_run_records_an_entry_that_checks(tmp_path: Path) -> None:
    from mlpzoo.claims.base import get_budget, run_claim

    spec = importlib.util.spec_from_file_location(
        "tiny_resumable_claim", Path(__file__).with_name("tiny_resumable_claim.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = run_claim(
        "hourglass", "test run", module, get_budget("full"), runs_dir=tmp_path / "runs", log=lambda line: None
    )
    path = record(result, tmp_path / "results", run_folder=result.save(tmp_path / "runs"), module=module)
    entry = load_entry(path)
    assert check_entry(entry, module) == []
    assert entry["environment"]["torch"] and entry["environment"]["cores"] and entry["seeds"] == [0, 1, 2]
    load = entry["environment"]["load_1min"]  # the machine's load beside the wall time
    assert load["start"] >= 0 and load["end"] >= 0
    assert len(entry["runs"]) == 9 and entry["files"] == ["evidence.png", "report.md"]
    assert "resumed_arms" not in entry  # not asked: no runs_dir given

    arms = sorted((tmp_path / "runs").glob("claims/hourglass/work/*/arms/*.json"))
    for arm in arms[4:]:
        arm.unlink()  # as if the first run had been killed after four arms
    again = run_claim(
        "hourglass", "test run", module, get_budget("full"), runs_dir=tmp_path / "runs", log=lambda line: None
    )
    assert again.table == result.table
    entry = load_entry(record(again, tmp_path / "results", module=module, runs_dir=tmp_path / "runs"))
    assert entry["resumed_arms"] == 4


def test_cli_record_refuses_before_running(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mlpzoo.cli import main

    runs = tmp_path / "runs"
    for args, message in ((["--budget", "quick"], "smoke test, not evidence"), (["--seeds", "1"], "declares 3")):
        out = CliRunner().invoke(main, ["reproduce", "finalmlp", "--record", "--runs-dir", str(runs), *args])
        assert out.exit_code != 0 and message in out.output
    assert not runs.exists()  # nothing ran


@pytest.mark.parametrize(
    "line",
    [
        "from mlpzoo.claims.kits import vision",
        "from mlpzoo.claims.kits.vision import fit_images",
        "import mlpzoo.claims.kits.vision",
    ],
)
def test_code_hash_covers_a_kit_however_it_is_imported(tmp_path, line):
    """A kit change must mark every claim that uses it stale, whichever import form the claim uses."""
    import hashlib

    import mlpzoo.claims.kits.vision as kit
    from mlpzoo.claims.base import source_hash

    claim = tmp_path / "some_claim.py"
    claim.write_text(line + "\n", encoding="utf-8")
    expected = hashlib.sha256(claim.read_bytes())
    expected.update(Path(kit.__file__).read_bytes())
    assert source_hash(claim) == expected.hexdigest()[:16]


def test_code_hash_covers_the_kits_a_kit_imports(tmp_path) -> None:
    """kits/hybrid.py builds on kits/vision.py: a change to vision must mark the hybrid claims stale too."""
    import hashlib

    from mlpzoo.claims.base import source_hash

    kits = Path(__file__).resolve().parents[2] / "src" / "mlpzoo" / "claims" / "kits"
    claim = tmp_path / "some_claim.py"
    claim.write_text("from mlpzoo.claims.kits import hybrid\n", encoding="utf-8")
    expected = hashlib.sha256(claim.read_bytes())
    for name in ("hybrid", "vision"):  # sorted by name
        expected.update((kits / f"{name}.py").read_bytes())
    assert source_hash(claim) == expected.hexdigest()[:16]
