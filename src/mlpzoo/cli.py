"""The ``mlpzoo`` command: the paper catalog, claim reproduction, training from YAML, benchmarks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.table import Table

from mlpzoo.errors import ConfigError, DataMissingError, MlpzooError

# Logs and pipes get wide lines rather than rich's 80-column default, so tables stay readable.
console = Console(width=None if sys.stdout.isatty() else 200)


def _fail(err: Exception) -> None:
    console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
    sys.exit(2)


class _Group(click.Group):
    """Turns mlpzoo's own errors into one red line instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MlpzooError as err:
            _fail(err)


@click.group(cls=_Group)
@click.version_option(package_name="mlpzoo")
def main() -> None:
    """MLP-family models behind one API, and runnable checks of 43 papers' claims."""


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "markdown"]), default="table", help="Terminal table or Markdown.")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True, help="Where claim results are looked up.")
def papers(fmt: str, runs_dir: Path) -> None:
    """The catalog: one row a paper, its models, its claim module and the last verdict."""
    from mlpzoo.claims import implemented_claims
    from mlpzoo.claims.catalog import catalog_rows, render_markdown, render_rich
    from mlpzoo.registry import list_models, model_entry

    models_by_paper: dict[str, list[str]] = {}
    for name in list_models():
        models_by_paper.setdefault(model_entry(name).paper, []).append(name)
    rows = catalog_rows(runs_dir, models_by_paper, set(implemented_claims()))
    if fmt == "markdown":
        click.echo(render_markdown(rows))
    else:
        console.print(render_rich(rows))


@main.command()
@click.argument("paper_id")
@click.option("--budget", type=click.Choice(["quick", "full", "gpu"]), default="full", show_default=True,
              help="quick: about a minute, a smoke test; full: the real check (many minutes); gpu: the paper's scale, where a claim offers it.")
@click.option("--seeds", type=int, default=None, help="Number of seeds (default: the budget's).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Data directory (default: $MLPZOO_DATA or the user cache).")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
def reproduce(paper_id: str, budget: str, seeds: int | None, data_dir: Path | None, runs_dir: Path, threads: int | None) -> None:
    """Run a paper's experiment and print the evidence and the verdict."""
    import torch

    from mlpzoo.claims import get_claim
    from mlpzoo.claims import run as run_claim
    from mlpzoo.claims.base import get_budget

    if threads:
        torch.set_num_threads(threads)
    claim = get_claim(paper_id)
    chosen = get_budget(budget, seeds)
    if hasattr(claim, "SPEC"):
        from mlpzoo.claims.catalog import get_paper

        console.print(f"[bold]{get_paper(paper_id).title}[/]\nclaim: {claim.SPEC.claim}\n"
                      f"budget: {chosen.name}, {len(claim.SPEC.seed_list(chosen))} seed(s)", highlight=False)
    else:
        console.print(f"[bold]{claim.TITLE}[/]\nclaim: {claim.CLAIM}\nbudget: {chosen.name}, {chosen.seeds} seed(s), up to {chosen.max_epochs} epochs")
    try:
        result = run_claim(paper_id, chosen, data_dir=data_dir, runs_dir=runs_dir, log=lambda line: console.print(line, highlight=False),
                           progress=console.is_terminal, console=console)
    except DataMissingError as err:
        if data_dir is not None or os.environ.get("MLPZOO_DATA"):
            raise
        # Quick start on a machine with neither data nor internet: show the library working anyway.
        console.print(f"[yellow]no data directory is set and the data could not be fetched ({err})[/]", highlight=False, soft_wrap=True)
        console.print("[yellow]running 'mlpzoo tour' on data shipped with scikit-learn instead; set MLPZOO_DATA to reproduce the claim[/]")
        from mlpzoo.tour import run_tour

        console.print(_table(run_tour(log=console.print)))
        return
    folder = result.save(runs_dir)
    console.print(_table(result.table))
    colour = {"reproduced": "green", "partly reproduced": "yellow"}.get(result.verdict, "red")
    console.print(f"[bold {colour}]verdict: {result.verdict}[/] — {result.reason}", highlight=False)
    for note in result.notes:
        console.print(f"  note: {note}", highlight=False)
    console.print(f"report: {folder / 'report.md'}")


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a config value (YAML syntax), e.g. train.epochs=3.")
def train(config: Path, overrides: tuple[str, ...]) -> None:
    """Train a model from a YAML file with sections data, model and train."""
    from mlpzoo.train.from_config import run_config

    result = run_config(_read_spec(config, overrides), source=str(config))
    if result.resumed_from_epoch is not None:
        console.print(f"[yellow]continued the run in {result.run_dir} from epoch {result.resumed_from_epoch}; "
                      "set train.resume=false or another train.run_name to start over[/]", highlight=False)
    console.print(_table([{"split": split, **scores} for split, scores in result.metrics.items()]))
    console.print(f"best epoch {result.best_epoch} of {result.epochs_run}; {result.train_samples_per_second:,.0f} training samples/s; run: {result.run_dir}")


def _read_spec(config: Path, overrides: tuple[str, ...]) -> dict:
    """The YAML file as a dict, with ``--set SECTION.KEY=VALUE`` overrides applied."""
    try:
        spec = yaml.safe_load(config.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{config}: not valid YAML ({str(err).splitlines()[0]}); check indentation and colons") from err
    if not isinstance(spec, dict):
        raise ConfigError(f"{config}: expected a mapping with sections data, model, train")
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, field = key.partition(".")
        if not sep or not dot:
            raise ConfigError(f"--set {item!r}: use SECTION.KEY=VALUE, e.g. train.epochs=3")
        if not isinstance(spec.setdefault(section, {}), dict):
            raise ConfigError(f"--set {item!r}: section {section!r} of {config} is not a mapping")
        spec[section][field] = yaml.safe_load(value)
    return spec


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trials", type=int, default=20, show_default=True, help="Trials this command runs (in each worker process).")
@click.option("--storage", default=None, metavar="URL",
              help="sqlite:///FILE.db, journal:///FILE.log or a database URL (default: sqlite under TRAIN.RUN_DIR/tune).")
@click.option("--study", "study_name", default=None, help="Study name (default: the config's file name); workers with the same storage and name share it.")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes started on this machine.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a config value, as for train.")
def tune(config: Path, trials: int, storage: str | None, study_name: str | None, workers: int, overrides: tuple[str, ...]) -> None:
    """Search hyperparameters with Optuna over the config's tune: block (pruning on the validation metric)."""
    from mlpzoo.tune import tune as run_tune

    result = run_tune(_read_spec(config, overrides), str(config), trials, storage, study_name, workers,
                      log=lambda line: console.print(line, highlight=False))
    console.print(", ".join(f"{n} {state}" for state, n in result.counts.items()) + f" trial(s) in study {result.study} ({result.storage})",
                  highlight=False)
    if not result.top:
        console.print("[yellow]no trial completed; see the errors above, or lower the pruner's aggressiveness[/]")
        return
    console.print(_table(result.top))
    console.print(f"best params: {result.best_params_path}\nbest config (for mlpzoo train): {result.best_config_path}", highlight=False)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Output file (default: RUN_DIR/model.onnx).")
def export(run_dir: Path, fmt: str, output: Path | None) -> None:
    """Export a run's best checkpoint to ONNX and check it in onnxruntime against PyTorch."""
    from mlpzoo.export import export_run

    result = export_run(run_dir, output, log=lambda line: console.print(line, highlight=False))
    console.print(f"wrote {result.path} ({result.exporter} exporter, opset {result.opset}); inputs {', '.join(result.inputs)} "
                  f"with a dynamic batch axis; onnxruntime vs PyTorch max abs diff {result.max_abs_diff:.2e}", highlight=False)


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.md"), show_default=True,
              help="report.md or report.html; plots are written beside it.")
def report(run_dirs: tuple[Path, ...], output: Path) -> None:
    """One page comparing runs (table, learning curves, metric vs parameters); claim result folders too."""
    from mlpzoo.report_runs import write_runs_report

    written = write_runs_report(list(run_dirs), output, log=lambda line: console.print(f"[yellow]{line}[/]", highlight=False))
    console.print(f"wrote {written.path}: {written.runs} run(s), {written.claims} claim result(s), {written.skipped} skipped", highlight=False)


@main.group()
def bench() -> None:
    """Speed benchmarks (ratios against baselines measured in the same run)."""


@bench.command("ctr")
@click.option("--epochs", type=int, default=5, show_default=True, help="Timed epochs per implementation.")
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--converge/--no-converge", default=True, help="Also train to early stopping and report test AUC.")
@click.option("--full-reproduce/--no-full-reproduce", default=False, help="Also time 'reproduce finalmlp --budget full'.")
@click.option("--fuxictr-json", type=click.Path(path_type=Path), default=Path("benchmarks/out/fuxictr.json"), show_default=True,
              help="Output of benchmarks/fuxictr_finalmlp.py; without it the issue's reference figure is used.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("benchmarks/out/ctr.json"), show_default=True)
def bench_ctr(epochs: int, threads: int, data_dir: Path | None, converge: bool, full_reproduce: bool, fuxictr_json: Path, out: Path) -> None:
    """FinalMLP training throughput on Frappe: mlpzoo vs a conventional DataLoader loop."""
    from mlpzoo.bench.ctr import run_ctr_benchmark

    report = run_ctr_benchmark(epochs=epochs, threads=threads, data_dir=data_dir, full_reproduce=full_reproduce, converge=converge,
                               fuxictr_json=fuxictr_json, log=console.print)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    console.print(_table(report["rows"]))
    for line in report["summary"]:
        console.print(line, highlight=False)


@main.command()
@click.option("--epochs", type=int, default=15, show_default=True)
def tour(epochs: int) -> None:
    """A one-minute tour on data shipped with scikit-learn (no data directory needed)."""
    from mlpzoo.tour import run_tour

    rows = run_tour(epochs=epochs, log=console.print)
    console.print(_table(rows))


def _table(rows: list[dict]) -> Table:
    table = Table(show_header=True, header_style="bold")
    if not rows:
        return table
    columns = [c for c in rows[0] if c != "run_dir"]
    for column in columns:
        table.add_column(str(column))
    for row in rows:
        table.add_row(*(f"{row[c]:.4f}" if isinstance(row.get(c), float) and abs(row[c]) < 1000 else
                        f"{row[c]:,.0f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns))
    return table


# `mlpzoo size` lives in its own module (hardware-aware MLP sizing, zaya1).
from mlpzoo.cli_size import size_command  # noqa: E402

main.add_command(size_command)


if __name__ == "__main__":
    main()
