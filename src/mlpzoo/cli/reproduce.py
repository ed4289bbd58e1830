"""``mlpzoo reproduce``: run a paper's claim experiment and print the evidence and the verdict.

Before it starts, the command says how long the budget is expected to take (the evidence ledger's
recorded time, else the newest local run of the same budget) and asks for confirmation beyond
:data:`CONFIRM_ABOVE_S` on a terminal. When the claim's data is missing it says which files, where
to get them, and that nothing was checked, and exits non-zero (``mlpzoo tour`` needs no data).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from mlpzoo.cli.console import console, render_table, say
from mlpzoo.cli.options import set_threads, threads_option
from mlpzoo.errors import DataMissingError

CONFIRM_ABOVE_S = 600.0  # longer than ten minutes: ask before starting (on a terminal)
NOT_CHECKED_EXIT = 2


@click.command()
@click.argument("paper_id")
@click.option(
    "--budget",
    type=click.Choice(["quick", "full", "gpu"]),
    default="full",
    show_default=True,
    help="quick: a smoke test of about a minute (1 seed, small data); full (the default): the real check, "
    "minutes to hours; gpu: the paper's scale, where a claim offers it.",
)
@click.option("--seeds", type=int, default=None, help="Number of seeds (default: the budget's).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data directory (default: $MLPZOO_DATA or the user cache).",
)
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--yes", "-y", is_flag=True, help="Start without asking, however long the estimate.")
@click.option("--record", is_flag=True, help="Write the ledger entry results/claims/ID.json (full budget only).")
@threads_option()
def reproduce(
    paper_id: str,
    budget: str,
    seeds: int | None,
    data_dir: Path | None,
    runs_dir: Path,
    yes: bool,
    record: bool,
    threads: int | None,
) -> None:
    """Run a paper's experiment and print the evidence and the verdict (a bare `reproduce ID` runs the full budget)."""
    from mlpzoo.claims import get_claim
    from mlpzoo.claims import run as run_claim
    from mlpzoo.claims.base import get_budget

    set_threads(threads)
    claim = get_claim(paper_id)
    chosen = get_budget(budget, seeds)
    seed_count = _print_header(paper_id, claim, chosen)
    if record:  # refuse before the run, not after an hour of it
        from mlpzoo.claims.ledger import check_recordable

        check_recordable(paper_id, claim, chosen.name, seed_count)
    _stop_if_data_missing(paper_id, claim, data_dir)
    _confirm_duration(estimate_seconds(paper_id, chosen.name, seed_count, runs_dir), yes)
    try:
        result = run_claim(
            paper_id,
            chosen,
            data_dir=data_dir,
            runs_dir=runs_dir,
            log=say,
            progress=console.is_terminal,
            console=console,
        )
    except DataMissingError as err:
        _not_checked(paper_id, claim, data_dir, err)
    folder = result.save(runs_dir)
    print_result(result, folder)
    if record:
        from mlpzoo.claims.ledger import record as record_entry

        entry = record_entry(result, run_folder=folder, runs_dir=runs_dir)
        say(f"ledger entry: {entry}; refresh the page and the README with 'mlpzoo report --claims'")


def print_result(result, folder: Path) -> None:
    """The evidence table, the coloured verdict with its reason, the notes and where the report is."""
    from mlpzoo.claims.base import split_calibration

    evidence, calibration = split_calibration(result.table)
    console.print(render_table(evidence))
    if calibration:
        say("calibration against the paper's own table (same data and protocol):")
        console.print(render_table(calibration))
    colour = {"reproduced": "green", "partly reproduced": "yellow"}.get(result.verdict, "red")
    console.print(f"[bold {colour}]verdict: {result.verdict}[/] — {result.reason}", highlight=False)
    for note in result.notes:
        say(f"  note: {note}")
    say(f"report: {folder / 'report.md'}")


def _print_header(paper_id: str, claim, chosen) -> int:
    """Title, claim and budget; returns the number of seeds the run will use."""
    from mlpzoo.claims.catalog import get_paper

    seeds = len(claim.SPEC.seed_list(chosen))
    console.print(f"[bold]{get_paper(paper_id).title}[/]", highlight=False)
    say(f"claim: {claim.SPEC.claim}\nbudget: {chosen.name}, {seeds} seed(s)")
    return seeds


# --- How long it will take ----------------------------------------------------------------------------


def estimate_seconds(paper_id: str, budget: str, seeds: int, runs_dir: Path) -> tuple[float | None, str]:
    """Expected wall time of ``budget`` with ``seeds`` seeds and where the figure comes from.

    First the evidence ledger's entry (``results/claims/<id>.json``) when it is of this budget, else the
    newest finished local run of the budget under ``runs_dir/claims/<id>/``; scaled by the seed count.
    ``(None, reason)`` when neither exists.
    """
    for path in _ledger_candidates(paper_id):
        entry = _read_record(path)
        if entry is not None and entry["budget"] == budget:
            return _scaled(entry, seeds), f"the evidence ledger ({path}, measured on {_machine(entry)})"
    local = [
        r
        for r in map(_read_record, Path(runs_dir).glob(f"claims/{paper_id}/*/result.json"))
        if r is not None and r["budget"] == budget
    ]
    if local:
        newest = max(local, key=lambda r: str(r.get("finished_at", "")))
        return _scaled(newest, seeds), f"your last {budget} run of {paper_id} under {runs_dir}"
    return None, f"no recorded {budget} run of {paper_id} yet"


def _ledger_candidates(paper_id: str) -> list[Path]:
    """The ledger entry of ``paper_id`` where the ledger lives (``$MLPZOO_RESULTS``, else the checkout's
    ``results/``, else ``./results``; see :func:`mlpzoo.claims.ledger.default_results_dir`)."""
    from mlpzoo.claims.ledger import default_results_dir, entry_path

    return [entry_path(paper_id, default_results_dir())]


def _read_record(path: Path) -> dict | None:
    """A ledger entry or a saved claim result with a usable ``budget`` and ``seconds``; else None."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("budget"), str):
        return None
    seconds = record.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        return None
    return record


def _scaled(record: dict, seeds: int) -> float:
    recorded = record.get("seeds")
    count = len(recorded) if isinstance(recorded, list) and recorded else seeds
    return float(record["seconds"]) * seeds / count


def _machine(record: dict) -> str:
    env = record.get("environment") if isinstance(record.get("environment"), dict) else {}
    parts = [f"{env['threads']} thread(s)" if env.get("threads") else "", str(env.get("cpu") or "")]
    return ", ".join(p for p in parts if p) or "an unrecorded machine"


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _confirm_duration(estimate: tuple[float | None, str], yes: bool) -> None:
    seconds, source = estimate
    if seconds is None:
        say(f"estimated wall time: unknown ({source})")
        return
    say(f"estimated wall time: about {format_duration(seconds)} (from {source})")
    if seconds > CONFIRM_ABOVE_S and not yes and _stdin_is_terminal():
        click.confirm(
            "That is longer than 10 minutes; start it? (--yes skips this question; --budget quick is a "
            "one-minute smoke test)",
            abort=True,
        )


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


# --- When the data is missing -------------------------------------------------------------------------


def _stop_if_data_missing(paper_id: str, claim, data_dir: Path | None) -> None:
    """Before any work: when downloads are off and a declared data set lacks files, say so and exit."""
    from mlpzoo.data.paths import fetch_allowed

    if fetch_allowed():
        return  # the loaders fetch what is missing; a failed download ends in _not_checked
    if any(_missing_files(name, data_dir) for name in _declared_datasets(claim)):
        _not_checked(paper_id, claim, data_dir, None)


def _declared_datasets(claim) -> tuple[str, ...]:
    spec = getattr(claim, "SPEC", None)
    return tuple(getattr(spec, "datasets", ()) or ())


def _file_set(name: str):
    """The data directory entry of a ``load_dataset`` name (``movielens-100k-ctr`` -> ``movielens-100k``)."""
    from mlpzoo.data.paths import DATASET_FILES

    if name in DATASET_FILES:
        return DATASET_FILES[name]
    return next((spec for key, spec in DATASET_FILES.items() if name.startswith(key + "-")), None)


def _missing_files(name: str, data_dir: Path | None) -> list[tuple[str, str]]:
    """``(folder/file, where to get it)`` for each required file of data set ``name`` not on disk."""
    from mlpzoo.data.paths import data_dir as resolve_data_dir

    spec = _file_set(name)
    if spec is None:
        return []
    folder = resolve_data_dir(data_dir) / spec.folder
    return [
        (f"{spec.folder}/{file}", spec.urls.get(file) or spec.homepage)
        for file in spec.files
        if not (folder / file).is_file()
    ]


def _not_checked(paper_id: str, claim, data_dir: Path | None, err: DataMissingError | None) -> NoReturn:
    """Short lines: nothing was checked, which files are missing, how to get them; exit non-zero."""
    from mlpzoo.data.paths import data_dir as resolve_data_dir
    from mlpzoo.data.paths import fetch_allowed

    root = resolve_data_dir(data_dir)
    origin = (
        "--data-dir"
        if data_dir is not None
        else "MLPZOO_DATA"
        if os.environ.get("MLPZOO_DATA", "").strip()
        else "the default cache; MLPZOO_DATA is not set"
    )
    console.print(f"[bold red]not checked:[/] {paper_id} needs data missing from the data directory", highlight=False)
    say(f"  {root} ({origin})")
    say("The claim was not checked and no verdict was written.")
    missing = [item for name in _declared_datasets(claim) for item in _missing_files(name, data_dir)]
    if missing:
        say("missing files, and where to get them:")
        width = max(len(path) for path, _ in missing)
        for path, source in missing:
            say(f"  {path:<{width}}  {source}")
    if err is not None and (not missing or "download" in str(err)):
        for part in str(err).split("; "):
            say(f"  {part}")
    if not fetch_allowed():
        say("Downloads are off (MLPZOO_OFFLINE=1 or MLPZOO_REQUIRE_DATA=1); nothing was fetched.")
    say("Put the files there, or point --data-dir or MLPZOO_DATA at a directory that holds them.")
    say("To see the library work without any data: mlpzoo tour")
    sys.exit(NOT_CHECKED_EXIT)
