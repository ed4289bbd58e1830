"""The verdict ledger: one committed entry per claim, made at the full budget, that cannot lie.

``mlpzoo reproduce ID --budget full --record`` writes ``results/claims/<id>.json`` (the evidence
table, the verdict and its reason, the paper's numbers, seeds, wall time, the machine, the mlpzoo
version and git commit, and the hash of the claim module's source) and copies the run's
``report.md`` and its small plots, plus an evidence plot drawn here, into ``results/claims/<id>/``.

An entry is only worth committing if anyone can check it, so :func:`check_entry` re-applies the
claim's pure ``verdict(table)`` to the stored table, refuses quick-budget entries, and calls an
entry *stale* when the claim module's source has changed since it was made. The tests run it on
every committed entry; ``mlpzoo papers``, the README's Verdicts table and the reproducibility page
(:mod:`mlpzoo.claims.page`) read entries through :func:`read_entries`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from mlpzoo.claims import implemented_claims, module_name
from mlpzoo.claims.base import ClaimResult, _json_default, code_hash, format_cell, integral_columns
from mlpzoo.claims.base import source_hash as base_source_hash
from mlpzoo.errors import ConfigError
from mlpzoo.train.rundir import atomic_write_text

SCHEMA = 1
# The ledger holds the CPU full budget (the 2-core machine of the budget rule); gpu runs use the paper's scale.
RECORDABLE_BUDGETS = ("full",)
EVIDENCE_BUDGETS = ("full", "gpu")  # what counts as evidence in a local run (quick never does)
REQUIRED = (
    "paper_id",
    "budget",
    "seeds",
    "table",
    "verdict",
    "reason",
    "code_hash",
    "environment",
    "finished_at",
    "seconds",
)
MAX_PLOT_BYTES = 400_000  # a committed plot larger than this is left out (the ledger stays small)
MAX_RUNS_BYTES = 200_000  # per-seed raw runs are kept when their JSON is at most this big
HEADLINE_ROWS = 4
RERUN = "mlpzoo reproduce ID --budget full --record"
RESULTS_ENV = "MLPZOO_RESULTS"
CALIBRATION = "calibration"  # the ``kind`` of evidence rows that set our number beside the paper's own


def default_results_dir() -> Path:
    """``$MLPZOO_RESULTS``, else the ``results/`` of the source checkout this package runs from, else ``./results``."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    checkout = Path(__file__).resolve().parents[3]  # src/mlpzoo/claims/ledger.py -> the repository root
    if (checkout / "pyproject.toml").is_file() and (checkout / "src" / "mlpzoo").is_dir():
        return checkout / "results"
    return Path("results")


def entry_path(paper_id: str, results_dir: Path) -> Path:
    return Path(results_dir) / "claims" / f"{paper_id}.json"


def entry_folder(paper_id: str, results_dir: Path) -> Path:
    """Where an entry's report.md and plots live."""
    return Path(results_dir) / "claims" / paper_id


# --- Writing an entry ---------------------------------------------------------------------------


def record(
    result: ClaimResult,
    results_dir: Path | None = None,
    run_folder: Path | None = None,
    plots: tuple[Path, ...] = (),
    module=None,
    runs_dir: Path | None = None,
) -> Path:
    """Write the ledger entry of a finished full-budget run; returns the JSON's path.

    Refuses (ConfigError) a quick-budget result, a run with fewer seeds than the claim declares for
    its budget, a claim without a pure ``verdict(table)``, a result whose verdict that function does
    not give back from its own table, and a run whose claim module changed while it ran. The run's
    ``report.md`` and the PNG files in ``run_folder`` (plus ``plots``, plus the PNGs the claim wrote under
    ``runs_dir/claims/<id>`` while it ran) are copied beside the entry. ``module`` is the claim module
    (default: the one of ``result.paper_id``).
    """
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    module = module if module is not None else _claim_module(result.paper_id)
    _refuse_unrecordable(result, module)
    folder = entry_folder(result.paper_id, results_dir)
    if folder.exists():
        shutil.rmtree(folder)  # an old entry's plots must not outlive it
    folder.mkdir(parents=True)
    plots = (*plots, *plots_written_during(result, runs_dir)) if runs_dir is not None else tuple(plots)
    files = _copy_run_files(run_folder, plots, folder)
    if not (folder / "evidence.png").exists() and plot_evidence(result.table, folder / "evidence.png"):
        files.append("evidence.png")
    if "report.md" not in files:
        (folder / "report.md").write_text(result.to_markdown(), encoding="utf-8")
        files.append("report.md")
    entry = _entry(result, sorted(files))
    if runs_dir is not None:
        # A resumed run's clock covers only its last session: say so, so wall times are not read as budgets.
        entry["resumed_arms"] = resumed_arms(result, module, runs_dir)
    path = entry_path(result.paper_id, results_dir)
    atomic_write_text(path, json.dumps(entry, indent=1, default=_json_default) + "\n")
    return path


def check_recordable(paper_id: str, module, budget: str, seeds: int) -> None:
    """Raise ConfigError when a run of ``module`` at ``budget`` with ``seeds`` seeds could not become an entry;
    ``mlpzoo reproduce --record`` asks before it spends the run's time."""
    if budget not in RECORDABLE_BUDGETS:
        why = "a smoke test, not evidence" if budget == "quick" else "not the budget the ledger records"
        raise ConfigError(f"{paper_id}: a {budget!r}-budget result is {why}; record a run made with --budget full")
    spec = getattr(module, "SPEC", None)
    if spec is None or not callable(getattr(module, "verdict", None)):
        raise ConfigError(
            f"{paper_id}: the claim module is not on the declared claim protocol (SPEC, experiment, a pure "
            "verdict(table)), so its entry could not be checked or resumed; convert it first (mlpzoo.claims.base)"
        )
    declared = spec.seeds.get(budget)
    if declared is not None and seeds < declared:
        raise ConfigError(
            f"{paper_id}: {seeds} seed(s) but the {budget} budget declares {declared}; run it without --seeds"
        )


def _refuse_unrecordable(result: ClaimResult, module) -> None:
    check_recordable(result.paper_id, module, result.budget, len(result.seeds))
    current = code_hash(module)
    if result.code_hash != current:
        raise ConfigError(
            f"{result.paper_id}: the claim module changed since this run started (code hash {result.code_hash or '-'} "
            f"vs now {current}); run it again"
        )
    stored = json.loads(json.dumps(result.table, default=_json_default))  # the table exactly as the entry will hold it
    again = module.verdict(stored)
    if tuple(again) != (result.verdict, result.reason):
        raise ConfigError(
            f"{result.paper_id}: verdict(table) gives {again[0]!r} on the run's own table but the run reported "
            f"{result.verdict!r}; the verdict must be a pure function of the table"
        )


def _entry(result: ClaimResult, files: list[str]) -> dict[str, Any]:
    data = asdict(result)
    runs = data.pop("runs")
    runs_json = json.dumps(runs, default=_json_default)
    entry = {"schema": SCHEMA, **data, "files": files}
    if len(runs_json) <= MAX_RUNS_BYTES:
        entry["runs"] = runs
    else:
        entry["runs_omitted"] = (
            f"{len(runs)} per-seed runs ({len(runs_json):,} bytes of JSON) are in the run's result.json only"
        )
    return entry


def _copy_run_files(run_folder: Path | None, plots: tuple[Path, ...], folder: Path) -> list[str]:
    """Copy report.md and the small PNGs of a run into the entry's folder; returns their names."""
    candidates = list(plots)
    if run_folder is not None:
        candidates = [Path(run_folder) / "report.md", *sorted(Path(run_folder).glob("*.png")), *candidates]
    copied = []
    for path in candidates:
        path = Path(path)
        if not path.is_file() or path.name in copied:
            continue
        if path.suffix == ".png" and path.stat().st_size > MAX_PLOT_BYTES:
            continue  # too big to commit; it stays in the run folder
        shutil.copyfile(path, folder / path.name)
        copied.append(path.name)
    return copied


def resumed_arms(result: ClaimResult, module, runs_dir: Path) -> int:
    """How many of the run's stored arms were finished before it started (by an interrupted earlier run)."""
    from mlpzoo.claims.base import ClaimContext, get_budget

    spec = module.SPEC
    budget = get_budget(result.budget)
    if spec.seed_list(budget) != list(result.seeds):  # run with --seeds: the work folder is named for that count
        budget = get_budget(result.budget, len(result.seeds))
    ctx = ClaimContext(result.paper_id, spec, budget, None, Path(runs_dir), print, result.code_hash)
    try:
        start = datetime.fromisoformat(result.started_at).timestamp()
    except ValueError:
        return 0
    return sum(path.stat().st_mtime < start for path in (ctx.work_dir / "arms").glob("*.json"))


def plots_written_during(result: ClaimResult, runs_dir: Path) -> list[Path]:
    """PNG files under ``runs_dir/claims/<id>`` written while ``result`` ran (learning curves, Pareto fronts)."""
    try:
        start = datetime.fromisoformat(result.started_at).timestamp()
        end = datetime.fromisoformat(result.finished_at).timestamp()
    except ValueError:
        return []
    found = Path(runs_dir) / "claims" / result.paper_id
    return sorted(p for p in found.rglob("*.png") if start - 1 <= p.stat().st_mtime <= end + 1)


def plot_evidence(table: list[dict], path: Path) -> bool:
    """A bar chart of the table's first metric (mean with one standard deviation per row); False when there is none."""
    table = evidence_rows(table)
    metric = headline_metric(table)
    if metric is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table[:40]
    labels = [row_label(row) for row in rows]
    means = [_number(row.get(f"{metric}_mean")) for row in rows]
    spreads = [0.0 if math.isnan(s) else s for s in (_number(row.get(f"{metric}_std")) for row in rows)]
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.28 * len(rows)), dpi=80)
    ax.barh(range(len(rows)), means, xerr=spreads, color="tab:blue", ecolor="black", capsize=3)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    finite = [m for m in means if math.isfinite(m)]
    if finite:  # zoom in on the differences: the claims are about orderings, not about the distance from zero
        low, high = min(finite), max(finite)
        pad = (high - low) * 0.5 or abs(high) * 0.05 or 1.0
        ax.set_xlim(low - pad - max(spreads), high + pad + max(spreads))
    ax.set_xlabel(f"{metric} (mean, error bar: one standard deviation over seeds)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# --- Reading and checking entries --------------------------------------------------------------------


def load_entry(path: Path) -> dict[str, Any]:
    """One entry; a file that is not a ledger entry raises ConfigError naming the file and what is missing."""
    path = Path(path)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not a readable ledger entry ({err}); re-record it with '{RERUN}'") from err
    missing = [key for key in REQUIRED if not isinstance(entry, dict) or key not in entry]
    if missing:
        raise ConfigError(f"{path}: ledger entry lacks {', '.join(missing)}; re-record it with '{RERUN}'")
    if entry["paper_id"] != path.stem:
        raise ConfigError(
            f"{path}: holds the entry of {entry['paper_id']!r}; an entry's file is named after its claim id"
        )
    return entry


def read_entries(results_dir: Path | None = None, strict: bool = False) -> dict[str, dict[str, Any]]:
    """Every entry under ``results_dir/claims`` by claim id; malformed ones raise when ``strict``, else are left out."""
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    entries = {}
    for path in sorted((results_dir / "claims").glob("*.json")):
        try:
            entry = load_entry(path)
        except ConfigError:
            if strict:
                raise
            continue
        entries[entry["paper_id"]] = entry
    return entries


def source_hash(paper_id: str) -> str | None:
    """The code hash (as :func:`mlpzoo.claims.base.code_hash` computes it) of the claim module's file as it is now,
    found without importing the module; None when the claim has no module."""
    spec = importlib.util.find_spec(module_name(paper_id))
    if spec is None or not spec.origin:
        return None
    return base_source_hash(Path(spec.origin))


def current_hash(paper_id: str, module=None) -> str | None:
    """The code hash of ``module`` when given, else of the claim module file of ``paper_id``."""
    return code_hash(module) if module is not None else source_hash(paper_id)


def is_stale(entry: dict[str, Any], module=None) -> bool:
    """True when the claim module's source differs from the one the entry was made with."""
    return current_hash(entry["paper_id"], module) != entry.get("code_hash")


def reapply_verdict(entry: dict[str, Any], module=None) -> tuple[str, str]:
    """The claim's ``verdict(table)`` applied to the entry's stored evidence table."""
    module = module if module is not None else _claim_module(entry["paper_id"])
    if not callable(getattr(module, "verdict", None)):
        raise ConfigError(f"{entry['paper_id']}: the claim module has no verdict(table) to re-check its entry with")
    return tuple(module.verdict(entry["table"]))


def check_entry(entry: dict[str, Any], module=None) -> list[str]:
    """What is wrong with an entry (empty when it holds): quick budget, a verdict or reason that its own
    table does not give back, a stale code hash."""
    problems = []
    paper_id = entry["paper_id"]
    if entry["budget"] not in RECORDABLE_BUDGETS:
        problems.append(f"{paper_id}: made at the {entry['budget']!r} budget; only full-budget runs are ledger entries")
    try:
        again = reapply_verdict(entry, module)
    except Exception as err:  # noqa: BLE001 -- a verdict that cannot read its own stored table is itself the finding
        problems.append(f"{paper_id}: verdict(table) fails on the stored table: {type(err).__name__}: {err}")
    else:
        if again[0] != entry["verdict"]:
            problems.append(f"{paper_id}: stored verdict {entry['verdict']!r} but verdict(table) gives {again[0]!r}")
        elif again[1] != entry["reason"]:
            problems.append(f"{paper_id}: stored reason differs from what verdict(table) gives: {again[1]!r}")
    if is_stale(entry, module):
        problems.append(
            f"{paper_id}: stale: the claim module changed since the entry was made (code hash "
            f"{entry.get('code_hash')} vs now {current_hash(paper_id, module)}); "
            f"re-run '{RERUN.replace('ID', paper_id)}'"
        )
    return problems


def missing_files(path: Path, entry: dict[str, Any]) -> list[str]:
    """The files an entry lists (report, plots) that are not in its folder beside ``path``."""
    folder = Path(path).parent / entry["paper_id"]
    return [name for name in entry.get("files", []) if not (folder / name).is_file()]


def missing_entries(results_dir: Path | None = None) -> list[str]:
    """Implemented claims with no full-budget entry in the ledger."""
    entries = read_entries(results_dir)
    return [pid for pid in implemented_claims() if entries.get(pid, {}).get("budget") not in RECORDABLE_BUDGETS]


def _claim_module(paper_id: str):
    from mlpzoo.claims import get_claim

    return get_claim(paper_id)


# --- Our number and the paper's ------------------------------------------------------------------------


def evidence_rows(table: list[dict]) -> list[dict]:
    """The table without its calibration rows (ours against the paper's own number, ``kind: calibration``)."""
    return [row for row in table if row.get("kind") != CALIBRATION]


def calibration_rows(table: list[dict]) -> list[dict]:
    return [row for row in table if row.get("kind") == CALIBRATION]


def headline_metric(table: list[dict]) -> str | None:
    """The first ``<metric>_mean`` column of an evidence table (the metric the claim is judged on, by convention)."""
    for row in table:
        for column in row:
            if column.endswith("_mean"):
                return column[: -len("_mean")]
    return None


def row_label(row: dict) -> str:
    """A row's identity: its text cells (data set, model, variant, ...) joined."""
    parts = [str(v) for v in row.values() if isinstance(v, str)]
    return " / ".join(parts) or "all"


def our_number(table: list[dict], module=None) -> str:
    """Our headline figure: the claim module's ``headline(table)`` when it has one, else the first metric's
    mean ± std for the first rows of the table."""
    custom = getattr(module, "headline", None)
    if callable(custom):
        return str(custom(table))
    table = evidence_rows(table)
    metric = headline_metric(table)
    if metric is None:
        return "-"
    integral = integral_columns(table)
    cells = []
    for row in table[:HEADLINE_ROWS]:
        mean, std = row.get(f"{metric}_mean"), row.get(f"{metric}_std")
        spread = "" if std is None or (isinstance(std, float) and math.isnan(std)) else f" ± {format_cell(std)}"
        cells.append(f"{row_label(row)} {format_cell(mean, f'{metric}_mean' in integral)}{spread}")
    more = f" (+{len(table) - HEADLINE_ROWS} more rows)" if len(table) > HEADLINE_ROWS else ""
    return f"{metric}: " + "; ".join(cells) + more


def paper_number(paper_numbers: dict[str, Any]) -> str:
    """The paper's figures with where each comes from, or '-' where the paper gives none for our setting."""
    return "; ".join(f"{value} ({source})" for source, value in paper_numbers.items()) or "-"


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")
