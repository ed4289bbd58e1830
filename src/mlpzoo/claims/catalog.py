"""The catalog of the 43 papers mlpzoo implements, and the latest verdict of each claim check.

The catalog ships as ``catalog.yaml`` inside the package, so nothing outside the installed
package is read at run time. Claim runs leave ``<runs_dir>/claims/<paper_id>/<run>/result.json``;
:func:`latest_verdicts` and :func:`catalog_rows` turn those into the table ``mlpzoo papers`` shows.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from mlpzoo.errors import ConfigError

FAMILIES = ("ctr", "vision", "kan", "graph", "sequence", "efficiency", "rl", "multimodal", "other")


@dataclass(frozen=True)
class PaperEntry:
    """One paper: what mlpzoo builds from it and which headline claim it checks."""

    id: str
    title: str
    venue: str | None
    year: int | None
    arxiv: str | None
    build: str
    claim: str
    data: str
    family: str


@lru_cache(maxsize=1)
def _catalog() -> tuple[PaperEntry, ...]:
    text = resources.files("mlpzoo.claims").joinpath("catalog.yaml").read_text(encoding="utf-8")
    names = {f.name for f in fields(PaperEntry)}
    entries = []
    for raw in yaml.safe_load(text):
        # A packaging mistake should fail loudly here, not as a KeyError deep in the CLI.
        if set(raw) != names or raw["family"] not in FAMILIES:
            raise ConfigError(
                f"catalog.yaml: malformed entry {raw.get('id')!r}; fix the packaged catalog"
            )
        entries.append(PaperEntry(**raw))
    return tuple(entries)


def load_catalog() -> list[PaperEntry]:
    """All papers in catalog order (a fresh list; the entries themselves are immutable)."""
    return list(_catalog())


def get_paper(paper_id: str) -> PaperEntry:
    """The entry for ``paper_id``; an unknown id raises ConfigError naming close matches."""
    by_id = {entry.id: entry for entry in _catalog()}
    if paper_id in by_id:
        return by_id[paper_id]
    close = difflib.get_close_matches(paper_id, list(by_id), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise ConfigError(f"unknown paper id {paper_id!r}; {hint}run 'mlpzoo papers' for the list")


def _read_result(path: Path) -> dict[str, Any] | None:
    """A result.json as a dict, or None when it is unreadable or lacks the keys we sort on."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(result, dict) or not isinstance(result.get("finished_at"), str):
        return None
    return result


def latest_verdicts(runs_dir: Path) -> dict[str, dict[str, Any]]:
    """Per paper id, the newest ``result.json`` (by ``finished_at``) under ``runs_dir/claims``.

    Corrupt or unreadable files are skipped: one interrupted run must not hide the others.
    """
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(runs_dir).glob("claims/*/*/result.json")):
        result = _read_result(path)
        if result is None:
            continue
        paper_id = str(result.get("paper_id", path.parent.parent.name))
        # ISO-8601 timestamps written in one format sort correctly as strings.
        if paper_id not in latest or result["finished_at"] > latest[paper_id]["finished_at"]:
            latest[paper_id] = result
    return latest


def catalog_rows(
    runs_dir: Path, models_by_paper: dict[str, list[str]], claim_ids: set[str]
) -> list[dict[str, Any]]:
    """One display row per paper: its registered models, claim module and latest verdict."""
    verdicts = latest_verdicts(runs_dir)
    rows = []
    for entry in _catalog():
        result = verdicts.get(entry.id)
        rows.append(
            {
                "id": entry.id,
                "title": entry.title,
                "family": entry.family,
                "claim": entry.claim,
                "has_claim": entry.id in claim_ids,
                "verdict": str(result.get("verdict", "-")) if result else "-",
                "verdict_budget": result.get("budget") if result else None,
                "models": sorted(models_by_paper.get(entry.id, [])),
            }
        )
    return rows


def _verdict_text(row: dict[str, Any]) -> str:
    if row["verdict"] == "-" or row["verdict_budget"] is None:
        return row["verdict"]
    return f"{row['verdict']} ({row['verdict_budget']})"


def _claim_text(row: dict[str, Any]) -> str:
    # Paper ids may hold hyphens; the module that checks the claim cannot.
    return f"claims.{row['id'].replace('-', '_')}" if row["has_claim"] else "-"


def render_markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown table with columns id, paper, models built, claim module, last verdict."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")  # a bare pipe would split the cell

    lines = ["| id | paper | models built | claim module | last verdict |", "|---|---|---|---|---|"]
    for r in rows:
        cells = (r["id"], r["title"], ", ".join(r["models"]) or "-", _claim_text(r), _verdict_text(r))
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def render_rich(rows: list[dict[str, Any]]) -> Table:
    """The same table for the terminal."""
    table = Table(title="mlpzoo papers")
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("paper")
    table.add_column("models built")
    table.add_column("claim module", no_wrap=True)
    table.add_column("last verdict", no_wrap=True)
    for r in rows:
        table.add_row(r["id"], r["title"], ", ".join(r["models"]) or "-", _claim_text(r), _verdict_text(r))
    return table
