"""``mlpzoo report``: one page comparing runs and claim results, found at any depth below the folders given."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console, say


@click.command()
@click.argument("run_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--output", type=click.Path(path_type=Path), default=Path("runs/report"), show_default=True,
              help="Folder for the page and its plots (or a report.md / report.html file).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True,
              help="Page format when --output is a folder.")
def report(run_dirs: tuple[Path, ...], output: Path, fmt: str) -> None:
    """One page comparing runs (table, learning curves, metric vs parameters) and claim results.

    RUN_DIRS (default: runs) are searched at any depth: fits, tuning studies, claim results."""
    from mlpzoo.report_runs import write_runs_report

    paths = list(run_dirs) or [Path("runs")]
    written = write_runs_report(paths, output, log=_warn, fmt=fmt)
    say(written.summary())


def _warn(line: str) -> None:
    console.print(f"[yellow]{line}[/]", highlight=False)
