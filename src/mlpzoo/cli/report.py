"""``mlpzoo report``: one page comparing runs and claim results."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console


@click.command()
@click.argument("run_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.md"), show_default=True,
              help="report.md or report.html; plots are written beside it.")
@click.option("--claims", is_flag=True,
              help="Write the reproducibility page (index.html, claims.md) from the verdict ledger "
                   "and refresh the README's Verdicts table.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --claims: folder for the page (default: the ledger's results/ folder).")
def report(run_dirs: tuple[Path, ...], output: Path, claims: bool, out_dir: Path | None) -> None:
    """One page comparing runs (table, learning curves, metric vs parameters); claim result folders too.
    With --claims: the reproducibility page of every paper from the committed ledger."""
    if claims:
        _claims_page(out_dir)
        return
    if not run_dirs:
        raise click.UsageError("give one or more RUN_DIRS, or --claims for the reproducibility page")
    from mlpzoo.report_runs import write_runs_report

    written = write_runs_report(list(run_dirs), output, log=lambda line: console.print(f"[yellow]{line}[/]", highlight=False))
    console.print(f"wrote {written.path}: {written.runs} run(s), {written.claims} claim result(s), {written.skipped} skipped",
                  highlight=False)


def _claims_page(out_dir: Path | None) -> None:
    from mlpzoo.claims.ledger import default_results_dir
    from mlpzoo.claims.page import START, update_readme, write_page

    results = default_results_dir()
    written = write_page(out_dir, results)
    console.print(f"wrote {written.html} and {written.markdown}: {written.papers} papers, "
                  f"{written.entries} ledger entries", highlight=False)
    readme = results.parent / "README.md"  # the checkout's README, when the ledger lives in a checkout
    if readme.is_file() and START in readme.read_text(encoding="utf-8"):
        changed = update_readme(readme, results)
        console.print(f"{readme}: Verdicts table {'updated' if changed else 'already current'}", highlight=False)
