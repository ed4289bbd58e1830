"""``mlpzoo tune``: Optuna search over a config's ``tune:`` block."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console, render_table
from mlpzoo.cli.options import read_spec, set_threads, threads_option


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trials", type=int, default=20, show_default=True, help="Trials this command runs (in each worker process)."
)
@click.option(
    "--storage",
    default=None,
    metavar="URL",
    help="sqlite:///FILE.db, journal:///FILE.log or a database URL (default: sqlite under TRAIN.RUN_DIR/tune).",
)
@click.option(
    "--study",
    "study_name",
    default=None,
    help="Study name (default: the config's file name); workers with the same storage and name share it.",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes started on this machine.")
@click.option(
    "--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a config value, as for train."
)
@threads_option()
def tune(
    config: Path,
    trials: int,
    storage: str | None,
    study_name: str | None,
    workers: int,
    overrides: tuple[str, ...],
    threads: int | None,
) -> None:
    """Search hyperparameters with Optuna over the config's tune: block (pruning on the validation metric)."""
    from mlpzoo.tune import tune as run_tune

    set_threads(threads)
    spec = read_spec(config, overrides)
    if threads:
        spec.setdefault("train", {})["num_threads"] = threads  # each trial, in every worker process
    result = run_tune(
        spec, str(config), trials, storage, study_name, workers, log=lambda line: console.print(line, highlight=False)
    )
    console.print(
        ", ".join(f"{n} {state}" for state, n in result.counts.items())
        + f" trial(s) in study {result.study} ({result.storage})",
        highlight=False,
    )
    if not result.top:
        console.print("[yellow]no trial completed; see the errors above, or lower the pruner's aggressiveness[/]")
        return
    console.print(render_table(result.top))
    console.print(
        f"best params: {result.best_params_path}\nbest config (for mlpzoo train): {result.best_config_path}",
        highlight=False,
    )
