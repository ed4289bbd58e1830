"""``mlpzoo bench``: speed benchmarks against baselines measured in the same run."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlpzoo.cli.console import console, render_table


@click.group()
def bench() -> None:
    """Speed benchmarks (ratios against baselines measured in the same run)."""


@bench.command("ctr")
@click.option("--epochs", type=int, default=5, show_default=True, help="Timed epochs per implementation.")
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--converge/--no-converge", default=True, help="Also train to early stopping and report test AUC.")
@click.option(
    "--full-reproduce/--no-full-reproduce", default=False, help="Also time 'reproduce finalmlp --budget full'."
)
@click.option(
    "--fuxictr-json",
    type=click.Path(path_type=Path),
    default=Path("benchmarks/out/fuxictr.json"),
    show_default=True,
    help="Output of benchmarks/fuxictr_finalmlp.py run on this machine; without it, FuxiCTR 2.3.10's "
    "14,566 samples/s measured on the project's 2-core dev machine (2026-11-26, benchmarks/README.md).",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("benchmarks/out/ctr.json"), show_default=True)
def bench_ctr(
    epochs: int,
    threads: int,
    data_dir: Path | None,
    converge: bool,
    full_reproduce: bool,
    fuxictr_json: Path,
    out: Path,
) -> None:
    """FinalMLP training throughput on Frappe: mlpzoo vs a conventional DataLoader loop."""
    from mlpzoo.bench.ctr import run_ctr_benchmark

    report = run_ctr_benchmark(
        epochs=epochs,
        threads=threads,
        data_dir=data_dir,
        full_reproduce=full_reproduce,
        converge=converge,
        fuxictr_json=fuxictr_json,
        log=console.print,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    console.print(render_table(report["rows"]))
    for line in report["summary"]:
        console.print(line, highlight=False)
