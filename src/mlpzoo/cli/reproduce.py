"""``mlpzoo reproduce``: run a paper's claim experiment and print the evidence and the verdict."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlpzoo.cli.console import console, render_table
from mlpzoo.cli.options import set_threads, threads_option
from mlpzoo.errors import DataMissingError


@click.command()
@click.argument("paper_id")
@click.option("--budget", type=click.Choice(["quick", "full", "gpu"]), default="full", show_default=True,
              help="quick: about a minute, a smoke test; full: the real check (many minutes); "
                   "gpu: the paper's scale, where a claim offers it.")
@click.option("--seeds", type=int, default=None, help="Number of seeds (default: the budget's).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Data directory (default: $MLPZOO_DATA or the user cache).")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@threads_option()
def reproduce(paper_id: str, budget: str, seeds: int | None, data_dir: Path | None, runs_dir: Path,
              threads: int | None) -> None:
    """Run a paper's experiment and print the evidence and the verdict."""
    from mlpzoo.claims import get_claim
    from mlpzoo.claims import run as run_claim
    from mlpzoo.claims.base import get_budget

    set_threads(threads)
    claim = get_claim(paper_id)
    chosen = get_budget(budget, seeds)
    if hasattr(claim, "SPEC"):
        from mlpzoo.claims.catalog import get_paper

        console.print(f"[bold]{get_paper(paper_id).title}[/]\nclaim: {claim.SPEC.claim}\n"
                      f"budget: {chosen.name}, {len(claim.SPEC.seed_list(chosen))} seed(s)", highlight=False)
    else:
        console.print(f"[bold]{claim.TITLE}[/]\nclaim: {claim.CLAIM}\n"
                      f"budget: {chosen.name}, {chosen.seeds} seed(s), up to {chosen.max_epochs} epochs")
    try:
        result = run_claim(paper_id, chosen, data_dir=data_dir, runs_dir=runs_dir,
                           log=lambda line: console.print(line, highlight=False),
                           progress=console.is_terminal, console=console)
    except DataMissingError as err:
        if data_dir is not None or os.environ.get("MLPZOO_DATA"):
            raise
        # Quick start on a machine with neither data nor internet: show the library working anyway.
        console.print(f"[yellow]no data directory is set and the data could not be fetched ({err})[/]",
                      highlight=False, soft_wrap=True)
        console.print("[yellow]running 'mlpzoo tour' on data shipped with scikit-learn instead; "
                      "set MLPZOO_DATA to reproduce the claim[/]")
        from mlpzoo.tour import run_tour

        console.print(render_table(run_tour(log=console.print)))
        return
    folder = result.save(runs_dir)
    console.print(render_table(result.table))
    colour = {"reproduced": "green", "partly reproduced": "yellow"}.get(result.verdict, "red")
    console.print(f"[bold {colour}]verdict: {result.verdict}[/] — {result.reason}", highlight=False)
    for note in result.notes:
        console.print(f"  note: {note}", highlight=False)
    console.print(f"report: {folder / 'report.md'}")
