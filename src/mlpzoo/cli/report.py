"""``mlpzoo report``: one page comparing runs and claim results."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.md"), show_default=True,
              help="report.md or report.html; plots are written beside it.")
def report(run_dirs: tuple[Path, ...], output: Path) -> None:
    """One page comparing runs (table, learning curves, metric vs parameters); claim result folders too."""
    from mlpzoo.report_runs import write_runs_report

    written = write_runs_report(list(run_dirs), output, log=lambda line: console.print(f"[yellow]{line}[/]", highlight=False))
    console.print(f"wrote {written.path}: {written.runs} run(s), {written.claims} claim result(s), {written.skipped} skipped",
                  highlight=False)
