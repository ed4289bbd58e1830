"""``mlpzoo train``: train a model from a YAML file."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console, render_table, say
from mlpzoo.cli.options import read_spec, set_threads, threads_option


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override a config value (YAML syntax), e.g. train.epochs=3.",
)
@threads_option()
def train(config: Path, overrides: tuple[str, ...], threads: int | None) -> None:
    """Train a model from a YAML file with sections data, model and train."""
    from mlpzoo.train.from_config import run_config

    set_threads(threads)
    spec = read_spec(config, overrides)
    if threads:
        spec.setdefault("train", {})["num_threads"] = threads
    # On a terminal the progress bar shows each epoch; in a log file (nohup, CI) a line per epoch does.
    callbacks = () if console.is_terminal else (lambda epoch, record: say(epoch_line(epoch, record)),)
    result = run_config(spec, source=str(config), callbacks=callbacks)
    if result.resumed_from_epoch is not None:
        console.print(
            f"[yellow]continued the run in {result.run_dir} from epoch {result.resumed_from_epoch}; "
            "choose another train.run_name to start a new run, or set train.resume=false to start over here "
            "(that deletes this run's checkpoints)[/]",
            highlight=False,
        )
    console.print(render_table([{"split": split, **scores} for split, scores in result.metrics.items()]))
    say(
        f"best epoch {result.best_epoch} of {result.epochs_run}; "
        f"{result.train_samples_per_second:,.0f} training samples/s; run: {result.run_dir}"
    )


def epoch_line(epoch: int, record: dict) -> str:
    """``epoch 3: train_loss 0.2714, valid_auc 0.9312, valid_logloss 0.2901 (1.5 s, 40,404 samples/s)``."""
    scores = [f"train_loss {record['train_loss']:.4f}"] + [
        f"{k} {v:.4f}" for k, v in record.items() if k.startswith("valid_")
    ]
    return (
        f"epoch {epoch}: {', '.join(scores)} ({record['train_seconds']:.1f} s, "
        f"{record['train_samples_per_second']:,.0f} samples/s)"
    )
