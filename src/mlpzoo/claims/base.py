"""The claims framework: run an experiment, tabulate the evidence, compute an honest verdict.

A claim module (one per paper, ``mlpzoo.claims.<id with _ for ->``) reads like the paper's
experiment section and declares three things:

- ``SPEC``: a :class:`ClaimSpec` (the claim sentence, the paper's numbers, settings per budget,
  seeds per budget, the data sets it reads);
- ``experiment(ctx) -> Evidence``: the runs, each finished unit of work stored through
  ``ctx.arm(key, fn)`` so that an interrupted run resumes where it stopped;
- ``verdict(table) -> (verdict, reason)``: a pure function of the evidence table (no training, no
  I/O), so stored evidence can be re-checked at any time.

:func:`run_claim` owns the rest (clock, settings, seeds, progress, the :class:`ClaimResult`). This
module also holds what verdicts share: the one-standard-error rule (:func:`compare`), mean/std
tables and the saved result (JSON + Markdown report).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mlpzoo.errors import ConfigError

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not checkable here")
SPREAD_NOTE = (
    "Differences count only when they exceed one standard error of the difference over seeds or folds "
    "(none with a single run)."
)
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
    # The paper's scale where it needs an accelerator; only claims whose SPEC has "gpu" settings offer it.
    "gpu": Budget("gpu", seeds=3, max_epochs=100, seeds_given=False),
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
    code_hash: str = ""  # SHA-256 (first 16 hex digits) of the claim module's source when it ran
    environment: dict[str, Any] = field(default_factory=dict)  # machine, torch, mlpzoo version, git commit

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")
        standard = [SPREAD_NOTE] + ([QUICK_NOTE] if self.budget == "quick" else [])
        self.notes = list(self.notes) + [n for n in standard if n not in self.notes]

    def to_markdown(self) -> str:
        lines = [
            f"# {self.paper_id}: {self.title}",
            "",
            f"**Claim.** {self.claim}",
            "",
            f"**Verdict: {self.verdict}.** {self.reason}",
            "",
            f"Budget `{self.budget}`, seeds {self.seeds}, {self.seconds:.0f} s, finished {self.finished_at}.",
            "",
        ]
        evidence, calibration = split_calibration(self.table)
        lines += markdown_table(evidence)
        if calibration:
            lines += ["", "Calibration against the paper's own table (matching data and protocol):", ""]
            lines += markdown_table(calibration)
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
    columns = list(dict.fromkeys(c for row in rows for c in row))
    integral = integral_columns(rows)
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        out.append("| " + " | ".join(format_cell(row.get(c), c in integral) for c in columns) + " |")
    return out


def integral_columns(rows: list[dict]) -> set[str]:
    """Columns whose every number is a whole number (counts, epochs, parameters): shown without decimals."""
    found: dict[str, bool] = {}
    for row in rows:
        for column, value in row.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                found[column] = False if not isinstance(value, type(None)) else found.get(column, True)
                continue
            whole = isinstance(value, int) or (math.isfinite(value) and float(value).is_integer())
            found[column] = found.get(column, True) and (whole or math.isnan(value))
    return {column for column, whole in found.items() if whole}


def format_cell(value, integral: bool = False) -> str:
    """One evidence-table cell: '-' for a missing or undefined number (a std over one seed), whole
    numbers without decimals, large numbers with thousands separators, else four decimals."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (integral or abs(value) >= 1000):
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


# --- The one-standard-error rule -------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on one metric: the margin (positive favours ``a``) and its standard error.

    ``a`` wins only when the margin exceeds one standard error of the difference, loses only when it
    falls below minus one, and otherwise ties. With a single run there is no standard error (0), so
    any positive margin wins: single-run verdicts are smoke tests, as the quick budget's note says.
    """

    margin: float
    se: float

    @property
    def wins(self) -> bool:
        return self.margin > self.se and self.margin > 0

    @property
    def loses(self) -> bool:
        return self.margin < -self.se and self.margin < 0

    @property
    def ties(self) -> bool:
        return not (self.wins or self.loses)

    def __str__(self) -> str:
        spread = f"1 SE {self.se:.4f}" if self.se > 0 else "single run, no SE"
        return f"{self.margin:+.4f} ({spread})"


def compare(a: dict, b: dict, metric: str, higher_is_better: bool = True, min_se: float = 0.0) -> Comparison:
    """Compare two evidence rows (``summarize`` rows with ``<metric>_mean``, ``_std`` and ``n``).

    ``min_se`` floors the standard error, e.g. with a binomial sampling error when seeds agree exactly.
    """
    margin = a[f"{metric}_mean"] - b[f"{metric}_mean"]
    return Comparison(margin if higher_is_better else -margin, max(standard_error_of_difference(a, b, metric), min_se))


def beyond_one_se(margin: float, se: float) -> bool:
    """True when ``margin`` is positive and larger than one standard error ``se`` (0 with one run)."""
    return margin > 0 and margin > (0.0 if math.isnan(se) else se)


def outcome(checks: list[bool]) -> str:
    """All checks pass -> reproduced, none -> not reproduced, else partly reproduced."""
    if checks and all(checks):
        return "reproduced"
    return "partly reproduced" if any(checks) else "not reproduced"


# --- Calibration against the paper's own table (issue 21) -------------------------------------------
#
# Where a claim can run a paper's method on the paper's own data and protocol, it adds calibration
# rows to its evidence table: the paper's number (mean, sd, the table it comes from), ours (mean, sd,
# n) and the gap in units of the paper's sd. A method of the paper that lands more than
# CALIBRATION_TOLERANCE of the paper's sds below the paper is an implementation falling short, not
# a refutation: :func:`calibrated_verdict` then never lets the verdict read "not reproduced".

CALIBRATION = "calibration"
CALIBRATION_TOLERANCE = 2.0  # paper standard deviations
BELOW_PAPER = "implementation below the paper's reported number on matching data"


@dataclass(frozen=True)
class PaperNumber:
    """One number of the paper's own table: mean and standard deviation over its runs, and where it is."""

    mean: float
    sd: float
    table: str

    def __post_init__(self) -> None:
        if not self.sd > 0:
            raise ValueError(f"PaperNumber.sd must be positive (got {self.sd}); the gap is measured in paper sds")


def calibration_row(paper: PaperNumber, values: list[float], role: str = "method", **keys: Any) -> dict:
    """A calibration row: ``keys`` (e.g. dataset, model), ``role`` ("method" for the paper's own method,
    "baseline" or "teacher" otherwise), the paper's number and ours over ``values`` (one per seed)."""
    ours = np.asarray(values, dtype=float)
    mean = float(ours.mean()) if len(ours) else float("nan")
    sd = float(ours.std(ddof=1)) if len(ours) > 1 else float("nan")
    return {
        "kind": CALIBRATION,
        **keys,
        "role": role,
        "paper_mean": paper.mean,
        "paper_sd": paper.sd,
        "paper_table": paper.table,
        "ours_mean": mean,
        "ours_sd": sd,
        "n": len(ours),
        "gap_sd": (mean - paper.mean) / paper.sd,
    }


def calibrate(
    runs: list[dict],
    papers: dict[tuple, PaperNumber],
    keys: tuple[str, ...],
    metric: str,
    roles: dict[str, str] | None = None,
) -> list[dict]:
    """Calibration rows for every combination of ``keys`` in ``runs`` that ``papers`` holds a number for
    (a key tuple in the order of ``keys``); ``roles`` maps the last key's value to its role (default "method")."""
    groups: dict[tuple, list[float]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in keys), []).append(float(run[metric]))
    return [
        calibration_row(papers[key], values, (roles or {}).get(key[-1], "method"), **dict(zip(keys, key)))
        for key, values in groups.items()
        if key in papers
    ]


def split_calibration(table: list[dict]) -> tuple[list[dict], list[dict]]:
    """(evidence rows, calibration rows) of an evidence table."""
    calibration = [row for row in table if row.get("kind") == CALIBRATION]
    return [row for row in table if row.get("kind") != CALIBRATION], calibration


def below_paper(table: list[dict], tolerance: float = CALIBRATION_TOLERANCE) -> list[dict]:
    """Calibration rows whose mean lies more than ``tolerance`` paper sds below the paper's mean."""
    return [row for row in split_calibration(table)[1] if row["gap_sd"] < -tolerance]


def describe_calibration(row: dict) -> str:
    keys = "/".join(str(v) for k, v in row.items() if k not in _CALIBRATION_COLUMNS)
    spread = "" if math.isnan(row["ours_sd"]) else f" +- {row['ours_sd']:.4f}"
    return (
        f"{keys}: ours {row['ours_mean']:.4f}{spread} (n={row['n']}) vs paper {row['paper_mean']:.4f} "
        f"+- {row['paper_sd']:.4f} ({row['paper_table']}), gap {row['gap_sd']:+.1f} paper sd"
    )


_CALIBRATION_COLUMNS = {"kind", "role", "paper_mean", "paper_sd", "paper_table", "ours_mean", "ours_sd", "n", "gap_sd"}


def calibrated_verdict(
    verdict: str, reason: str, table: list[dict], tolerance: float = CALIBRATION_TOLERANCE
) -> tuple[str, str]:
    """Apply the calibration rows of ``table`` to a verdict computed from its other rows.

    A calibration row of the paper's own method (role "method") more than ``tolerance`` paper sds
    below the paper turns "not reproduced" into "not checkable here", with the reason
    :data:`BELOW_PAPER`; any other verdict keeps its word and the reason says so too. Rows of
    baselines or teachers below the paper are reported, without changing the verdict.
    """
    low = below_paper(table, tolerance)
    if not low:
        return verdict, reason
    own = [row for row in low if row["role"] == "method"]
    detail = "; ".join(describe_calibration(row) for row in low)
    if own:
        if verdict == "not reproduced":
            verdict = "not checkable here"
        return verdict, f"{BELOW_PAPER} ({detail}). {reason}"
    return verdict, f"{reason} Calibration: baselines below the paper's number on matching data ({detail})."


# --- The declared claim protocol ---------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class ClaimSpec:
    """What a claim module declares: the sentence it checks and how much work each budget does.

    The paper's id, title and arXiv id live in the catalog (``catalog.yaml``); the module's file name
    is the id with ``-`` written ``_``, so the id is written once.

    Args:
        claim: the sentence checked, in the paper's own terms.
        settings: per budget name (``quick``, ``full``, optionally ``gpu``) the experiment's settings.
        seeds: per budget name, how many seeds (or folds) it runs; ``--seeds N`` overrides.
        first_seed: seeds are ``first_seed, first_seed + 1, ...``.
        paper_numbers: the paper's own figures for the same metric, each naming its table or figure.
        datasets: the ``load_dataset`` names the experiment reads (empty for generated data).
        notes: standing notes: reductions against the paper's scale, stand-ins, thresholds.
        replicated_by: for a benchmark whose spread comes from repeated timing rounds rather than seeds,
            what the replicates are (the full budget then needs no three seeds).
    """

    claim: str
    settings: dict[str, dict[str, Any]]
    seeds: dict[str, int] = field(default_factory=lambda: {"quick": 1, "full": 3, "gpu": 3})
    first_seed: int = 0
    paper_numbers: dict[str, str] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    replicated_by: str = ""  # where seeds are not the unit of replication (timing rounds of a benchmark), what is

    def __post_init__(self) -> None:
        missing = {"quick", "full"} - set(self.settings)
        if missing:
            raise ValueError(f"ClaimSpec.settings needs the budgets {sorted(missing)}")

    def settings_for(self, budget: Budget) -> dict[str, Any]:
        if budget.name not in self.settings:
            raise ConfigError(f"this claim has no {budget.name!r} budget; use one of {', '.join(self.settings)}")
        return dict(self.settings[budget.name])

    def seed_list(self, budget: Budget) -> list[int]:
        count = budget.seeds if budget.seeds_given else self.seeds.get(budget.name, budget.seeds)
        return [self.first_seed + i for i in range(count)]


@dataclass
class Evidence:
    """What an experiment returns: the evidence table the verdict reads, the raw runs, and notes."""

    table: list[dict]
    runs: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ClaimContext:
    """Everything an experiment needs, and the one way it stores a finished unit of work.

    ``ctx.arm(key, fn, seed=...)`` returns the stored result of ``key`` when an earlier run of the same
    claim, budget, settings, seeds and claim source finished it; else it seeds every generator with
    ``seed``, calls ``fn()``, writes the (JSON-serialisable) result atomically and returns it. Seeding
    per arm makes each arm's result independent of the arms before it, so a resumed run ends with the
    same evidence as an uninterrupted one.
    """

    def __init__(
        self,
        paper_id: str,
        spec: ClaimSpec,
        budget: Budget,
        data_dir,
        runs_dir: Path,
        log: Callable[[str], None],
        code_hash: str,
        on_arm: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.paper_id, self.spec, self.budget = paper_id, spec, budget
        self.settings = spec.settings_for(budget)
        self.seeds = spec.seed_list(budget)
        self.data_dir = data_dir
        self.runs_dir = Path(runs_dir)
        self.log = log
        fingerprint = _digest(
            json.dumps(
                {"settings": self.settings, "seeds": self.seeds, "budget": asdict(budget), "code": code_hash},
                sort_keys=True,
                default=str,
            )
        )
        # Scratch space for this exact experiment: stored arms, cached teachers and the like.
        self.work_dir = self.runs_dir / "claims" / paper_id / "work" / f"{budget.name}-{fingerprint}"
        self.expected = 0
        self.done = 0
        self._on_arm = on_arm

    def expect(self, units: int) -> None:
        """Announce how many ``arm`` calls the experiment will make (for progress and the time left)."""
        self.expected = units

    def arm(self, key: str, fn: Callable[[], T], seed: int | None = None) -> T:
        path = self.work_dir / "arms" / f"{_slug(key)}.json"
        stored = _read_json(path)
        if stored is not None and stored.get("key") == key:
            self.done += 1
            if self._on_arm:
                self._on_arm(key, True)
            return stored["value"]
        if seed is not None:
            from mlpzoo.train import seed_everything

            seed_everything(seed)
        value = fn()
        from mlpzoo.train.rundir import atomic_write_text

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": key, "value": value}, default=_json_default))
        self.done += 1
        if self._on_arm:
            self._on_arm(key, False)
        return json.loads(json.dumps(value, default=_json_default))  # the stored form, so fresh and resumed runs agree


def run_claim(
    paper_id: str,
    title: str,
    module,
    budget: Budget,
    data_dir=None,
    runs_dir: Path = Path("runs"),
    log: Callable[[str], None] = print,
    progress: bool = False,
    console=None,
) -> ClaimResult:
    """Run a declared claim module's experiment under ``budget`` and judge its evidence."""
    spec: ClaimSpec = module.SPEC
    code = code_hash(module)
    started, clock, load_at_start = now_iso(), time.perf_counter(), _load_1min()
    tracker = _ArmTracker(log, progress, console, clock)
    ctx = ClaimContext(paper_id, spec, budget, data_dir, runs_dir, log, code, tracker.on_arm)
    tracker.ctx = ctx
    with tracker:
        evidence: Evidence = module.experiment(ctx)
    verdict_, reason = module.verdict(evidence.table)
    return ClaimResult(
        paper_id=paper_id,
        title=title,
        claim=spec.claim,
        budget=budget.name,
        seeds=ctx.seeds,
        runs=evidence.runs,
        table=evidence.table,
        verdict=verdict_,
        reason=reason,
        paper_numbers=dict(spec.paper_numbers),
        notes=[*spec.notes, *evidence.notes],
        started_at=started,
        finished_at=now_iso(),
        seconds=time.perf_counter() - clock,
        code_hash=code,
        environment=environment(load_at_start),
    )


class _ArmTracker:
    """Progress over a claim's arms: a rich bar on a terminal, else a log line per finished arm."""

    def __init__(self, log, progress: bool, console, clock: float) -> None:
        self.log, self.live, self.console, self.clock = log, progress, console, clock
        self.ctx: ClaimContext | None = None
        self.bar = self.task = None
        self.computed = 0

    def __enter__(self):
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task("arms", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def on_arm(self, key: str, resumed: bool) -> None:
        ctx = self.ctx
        total = max(ctx.expected, ctx.done) or None
        if self.bar is not None:
            self.bar.update(self.task, total=total, completed=ctx.done, description=f"arms ({key})")
            return
        if resumed:
            self.log(f"  {key}: done in an earlier run, reused")
            return
        self.computed += 1
        elapsed = time.perf_counter() - self.clock
        left = ""
        if total:
            remaining = total - ctx.done
            left = f", about {_duration(elapsed / self.computed * remaining)} left"
        self.log(f"  [{ctx.done}/{total or '?'} arms, {_duration(elapsed)} elapsed{left}]")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def code_hash(module) -> str:
    """First 16 hex digits of the SHA-256 of a claim module's source and of the experiment kits it imports."""
    return source_hash(Path(module.__file__)) if getattr(module, "__file__", None) else ""


def source_hash(path: Path) -> str:
    """The code hash of the claim module file ``path``, found without importing it.

    The kits (``mlpzoo.claims.kits.*``) a claim imports, and the kits those import, are part of its
    experiment, so a change there changes the hash too; the rest of the library is versioned by the
    git commit.
    """
    digest = hashlib.sha256(path.read_bytes())
    kits = Path(__file__).parent / "kits"
    names, todo = set(), _kits_imported(path)
    while todo:
        name = todo.pop()
        if name not in names and (kits / f"{name}.py").is_file():
            names.add(name)
            todo |= _kits_imported(kits / f"{name}.py")
    for name in sorted(names):
        digest.update((kits / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def _kits_imported(path: Path) -> set[str]:
    """Names of the kits the Python file ``path`` imports, in any of the three import forms."""
    import ast

    package = "mlpzoo.claims.kits"
    names = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.ImportFrom) and node.module == package:  # from mlpzoo.claims.kits import vision
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package + "."):
            names.add(node.module.split(".")[3])
        elif isinstance(node, ast.Import):  # import mlpzoo.claims.kits.vision
            names.update(a.name.split(".")[3] for a in node.names if a.name.startswith(package + "."))
    return names


def _load_1min() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # no load average on this platform
        return None


def environment(load_at_start: float | None = None) -> dict[str, Any]:
    """Where a result was measured: machine, threads, torch, mlpzoo version, git commit and the 1-minute load
    average at the start and end (a wall time taken on a busy machine overstates the budget)."""
    import torch

    from mlpzoo import __version__

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
        "mlpzoo": __version__,
        "commit": _git_commit(),
        "load_1min": {"start": load_at_start, "end": _load_1min()},
    }


def _git_commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _slug(key: str) -> str:
    """A file name for an arm key: readable, and unique through a short hash of the key."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80]
    return f"{readable}-{_digest(key)[:8]}"
