"""The table ``mlpzoo papers`` shows: per catalogued paper, its models, claim module and best verdict.

The verdict comes from the committed ledger (``results/claims/<id>.json``) or from a newer local run
(``<runs_dir>/claims/<id>/<run>/result.json``), with our number beside the paper's and "stale" when
the claim's code changed since its ledger entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from mlpzoo.claims.catalog import load_catalog


def _read_result(path: Path) -> dict[str, Any] | None:
    """A result.json as a dict, or None when it is unreadable or lacks the keys we sort on."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(result, dict) or not isinstance(result.get("finished_at"), str):
        return None
    return result


def latest_verdicts(runs_dir: Path, evidence_first: bool = False) -> dict[str, dict[str, Any]]:
    """Per paper id, the newest ``result.json`` (by ``finished_at``) under ``runs_dir/claims``; with
    ``evidence_first``, the newest full or gpu run wins over any quick one (a smoke test).

    Corrupt or unreadable files are skipped: one interrupted run must not hide the others.
    """
    latest: dict[str, dict[str, Any]] = {}

    def rank(result: dict[str, Any]) -> tuple:
        # ISO-8601 timestamps written in one format sort correctly as strings.
        return (evidence_first and result.get("budget") != "quick", result["finished_at"])

    for path in sorted(Path(runs_dir).glob("claims/*/*/result.json")):
        result = _read_result(path)
        if result is None:
            continue
        paper_id = str(result.get("paper_id", path.parent.parent.name))
        if paper_id not in latest or rank(result) > rank(latest[paper_id]):
            latest[paper_id] = result
    return latest


def best_results(runs_dir: Path, results_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per paper id, the result ``mlpzoo papers`` shows: the newest evidence (a full or gpu budget), from
    the committed ledger or a newer local run under ``runs_dir``; a local quick run only where there is
    no evidence at all. Each result gains ``source``: ``"ledger"`` or ``"local run"``."""
    from mlpzoo.claims.ledger import EVIDENCE_BUDGETS, read_entries

    chosen = {pid: {**entry, "source": "ledger"} for pid, entry in read_entries(results_dir).items()}
    for paper_id, result in latest_verdicts(runs_dir, evidence_first=True).items():
        current = chosen.get(paper_id)
        is_evidence = result.get("budget") in EVIDENCE_BUDGETS
        if current is None or (is_evidence and result["finished_at"] > current["finished_at"]):
            chosen[paper_id] = {**result, "source": "local run"}
    return chosen


def catalog_rows(
    runs_dir: Path, models_by_paper: dict[str, list[str]], claim_ids: set[str], results_dir: Path | None = None
) -> list[dict[str, Any]]:
    """One display row per paper: its registered models, claim module, and the verdict of :func:`best_results`
    with our number, the paper's number and whether the claim's code changed since (``stale``)."""
    from mlpzoo.claims.ledger import our_number, paper_number, source_hash

    results = best_results(runs_dir, results_dir)
    rows = []
    for entry in load_catalog():
        result = results.get(entry.id)
        has_claim = entry.id in claim_ids
        made_with = result.get("code_hash") if result else None
        rows.append(
            {
                "id": entry.id,
                "title": entry.title,
                "family": entry.family,
                "claim": entry.claim,
                "has_claim": has_claim,
                "verdict": str(result.get("verdict", "-")) if result else "-",
                "verdict_budget": result.get("budget") if result else None,
                "source": result["source"] if result else None,
                # Results from before code hashes were recorded cannot be judged stale.
                "stale": bool(made_with) and has_claim and source_hash(entry.id) != made_with,
                "ours": our_number(result.get("table") or []) if result else "-",
                "paper": paper_number(result.get("paper_numbers") or {}) if result else "-",
                "models": sorted(models_by_paper.get(entry.id, [])),
            }
        )
    return rows


def _verdict_text(row: dict[str, Any]) -> str:
    if row["verdict"] == "-" or row["verdict_budget"] is None:
        return row["verdict"]
    where = ", ledger" if row.get("source") == "ledger" else ""  # else a run under runs_dir
    stale = ", stale" if row.get("stale") else ""
    return f"{row['verdict']} ({row['verdict_budget']}{where}{stale})"


def _claim_text(row: dict[str, Any]) -> str:
    # Paper ids may hold hyphens; the module that checks the claim cannot.
    return f"claims.{row['id'].replace('-', '_')}" if row["has_claim"] else "-"


COLUMNS = ("id", "paper", "models built", "claim module", "verdict", "ours", "paper's")


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    models = ", ".join(row["models"]) or "-"
    return (row["id"], row["title"], models, _claim_text(row), _verdict_text(row), row["ours"], row["paper"])


def render_markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: id, paper, models built, claim module, verdict (budget, source, stale), ours, the paper's."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")  # a bare pipe would split the cell

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(cell(c) for c in _cells(r)) + " |")
    return "\n".join(lines) + "\n"


def render_rich(rows: list[dict[str, Any]]) -> Table:
    """The same table for the terminal."""
    table = Table(title="mlpzoo papers")
    for column in COLUMNS:
        table.add_column(column, style="bold" if column == "id" else None, no_wrap=column in ("id", "claim module"))
    for r in rows:
        table.add_row(*_cells(r))
    return table
