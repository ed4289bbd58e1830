"""The claims framework: run an experiment, tabulate the evidence, compute an honest verdict.

A claim module (one per paper) reads like the paper's experiment section: which models, which
data, which budget, and a ``verdict`` function of the evidence table. This module holds what they
share: budgets, one seeded fit, mean/std tables, and the saved result (JSON + Markdown report).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mlpzoo.errors import ConfigError

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not checkable here")
SPREAD_NOTE = "Differences count only when they exceed one standard error of the difference over seeds or folds (none with a single run)."
QUICK_NOTE = "Quick budget: one seed and a few epochs, far from converged; the verdict is a smoke test, not evidence."


@dataclass(frozen=True)
class Budget:
    """How much compute a claim run may spend: seeds, epoch cap, and the early-stopping patience."""

    name: str
    seeds: int
    max_epochs: int
    patience: int = 2
    seeds_given: bool = True  # False only for the stock budgets; --seeds or a hand-built Budget sets the count

    def seed_list(self, default: int | None = None) -> list[int]:
        """Seeds 0..n-1: the user's count when given, else a claim's own ``default``, else the budget's."""
        count = self.seeds if self.seeds_given or default is None else default
        return list(range(count))


BUDGETS = {
    "quick": Budget("quick", seeds=1, max_epochs=2, seeds_given=False),
    "full": Budget("full", seeds=3, max_epochs=100, seeds_given=False),
}


def get_budget(name: str, seeds: int | None = None) -> Budget:
    if name not in BUDGETS:
        raise ConfigError(f"unknown budget {name!r}; use one of {', '.join(BUDGETS)}")
    budget = BUDGETS[name]
    if seeds is not None:
        if seeds < 1:
            raise ConfigError(f"--seeds {seeds} must be at least 1")
        budget = Budget(budget.name, seeds, budget.max_epochs, budget.patience, seeds_given=True)
    return budget


@dataclass
class ClaimResult:
    """Evidence and verdict of one claim run."""

    paper_id: str
    title: str
    claim: str
    budget: str
    seeds: list[int]
    runs: list[dict]
    table: list[dict]
    verdict: str
    reason: str
    paper_numbers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")
        standard = [SPREAD_NOTE] + ([QUICK_NOTE] if self.budget == "quick" else [])
        self.notes = list(self.notes) + [n for n in standard if n not in self.notes]

    def to_markdown(self) -> str:
        lines = [f"# {self.paper_id}: {self.title}", "", f"**Claim.** {self.claim}", "",
                 f"**Verdict: {self.verdict}.** {self.reason}", "",
                 f"Budget `{self.budget}`, seeds {self.seeds}, {self.seconds:.0f} s, finished {self.finished_at}.", ""]
        lines += markdown_table(self.table)
        if self.paper_numbers:
            lines += ["", "Paper's numbers (for reference; see notes on how the data differs):", ""]
            lines += [f"- {k}: {v}" for k, v in self.paper_numbers.items()]
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def save(self, runs_dir: str | Path) -> Path:
        """Write ``runs_dir/claims/<id>/<timestamp>/result.json`` and ``report.md``; returns the folder."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        folder = Path(runs_dir) / "claims" / self.paper_id / stamp
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").write_text(json.dumps(asdict(self), indent=2, default=_json_default))
        (folder / "report.md").write_text(self.to_markdown())
        return folder


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def summarize(runs: list[dict], keys: tuple[str, ...], metrics: tuple[str, ...]) -> list[dict]:
    """Mean, standard deviation (ddof=1) and count of ``metrics`` for each combination of ``keys``."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in keys), []).append(run)
    table = []
    for key, members in groups.items():
        row = dict(zip(keys, key))
        row["n"] = len(members)
        for metric in metrics:
            values = np.array([m[metric] for m in members], dtype=float)
            row[f"{metric}_mean"] = float(values.mean())
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        for extra in ("parameters", "epochs", "train_samples_per_second"):
            if extra in members[0]:
                row[extra] = float(np.mean([m[extra] for m in members]))
        table.append(row)
    return table


def standard_error_of_difference(a: dict, b: dict, metric: str) -> float:
    """Standard error of ``mean_a - mean_b`` from the two rows' spreads (0 with one seed)."""
    sa, sb = a[f"{metric}_std"], b[f"{metric}_std"]
    if math.isnan(sa) or math.isnan(sb):
        return 0.0
    return math.sqrt(sa**2 / a["n"] + sb**2 / b["n"])


def markdown_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(no rows)"]
    columns = list(rows[0])
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        out.append("| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    return out


def _fmt(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)
