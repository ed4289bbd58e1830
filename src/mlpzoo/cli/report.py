"""``mlpzoo report``: one page comparing runs and claim results, found at any depth below the folders given."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console, say


@click.command()
@click.argument("run_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the page and its plots, or a report.md / report.html file "
    "[default: runs/report; with --claims the ledger's results/ folder].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "html"]),
    default="markdown",
    show_default=True,
    help="Page format when --output is a folder.",
)
@click.option(
    "--claims",
    is_flag=True,
    help="Instead: the reproducibility page (index.html, claims.md) from the verdict ledger, "
    "and the README's Verdicts table refreshed.",
)
def report(run_dirs: tuple[Path, ...], output: Path | None, fmt: str, claims: bool) -> None:
    """One page comparing runs (table, learning curves, metric vs parameters) and claim results.

    RUN_DIRS (default: runs) are searched at any depth: fits, tuning studies, claim results.
    With --claims: the reproducibility page of every paper from the committed ledger."""
    if claims:
        _claims_page(output)
        return
    from mlpzoo.report_runs import write_runs_report

    paths = list(run_dirs) or [Path("runs")]
    written = write_runs_report(paths, output or Path("runs/report"), log=_warn, fmt=fmt)
    say(written.summary())


def _warn(line: str) -> None:
    console.print(f"[yellow]{line}[/]", highlight=False)


def _claims_page(out_dir: Path | None) -> None:
    from mlpzoo.claims.ledger import default_results_dir
    from mlpzoo.claims.page import START, update_readme, write_page

    results = default_results_dir()
    written = write_page(out_dir, results)
    say(f"wrote {written.html} and {written.markdown}: {written.papers} papers, {written.entries} ledger entries")
    readme = results.parent / "README.md"  # the checkout's README, when the ledger lives in a checkout
    if readme.is_file() and START in readme.read_text(encoding="utf-8"):
        changed = update_readme(readme, results)
        say(f"{readme}: Verdicts table {'updated' if changed else 'already current'}")
