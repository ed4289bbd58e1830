"""``mlpzoo train``: train a model from a YAML file."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console, render_table
from mlpzoo.cli.options import read_spec


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a config value (YAML syntax), e.g. train.epochs=3.")
def train(config: Path, overrides: tuple[str, ...]) -> None:
    """Train a model from a YAML file with sections data, model and train."""
    from mlpzoo.train.from_config import run_config

    result = run_config(read_spec(config, overrides), source=str(config))
    if result.resumed_from_epoch is not None:
        console.print(f"[yellow]continued the run in {result.run_dir} from epoch {result.resumed_from_epoch}; "
                      "choose another train.run_name to start a new run, or set train.resume=false to start over here "
                      "(that deletes this run's checkpoints)[/]", highlight=False)
    console.print(render_table([{"split": split, **scores} for split, scores in result.metrics.items()]))
    console.print(f"best epoch {result.best_epoch} of {result.epochs_run}; "
                  f"{result.train_samples_per_second:,.0f} training samples/s; run: {result.run_dir}")
