"""``mlpzoo tour``: the library end to end on data shipped with scikit-learn."""

from __future__ import annotations

import click

from mlpzoo.cli.console import console, render_table


@click.command()
@click.option("--epochs", type=int, default=15, show_default=True)
def tour(epochs: int) -> None:
    """A one-minute tour on data shipped with scikit-learn (no data directory needed)."""
    from mlpzoo.tour import run_tour

    rows = run_tour(epochs=epochs, log=console.print)
    console.print(render_table(rows))
