"""``mlpzoo tour``: the library end to end on data shipped with scikit-learn."""

from __future__ import annotations

import click

from mlpzoo.cli.console import console, render_table
from mlpzoo.cli.options import set_threads, threads_option


@click.command()
@click.option("--epochs", type=int, default=15, show_default=True)
@threads_option()
def tour(epochs: int, threads: int | None) -> None:
    """A one-minute tour on data shipped with scikit-learn (no data directory needed)."""
    from mlpzoo.tour import run_tour

    set_threads(threads)
    rows = run_tour(epochs=epochs, log=console.print)
    console.print(render_table(rows))
