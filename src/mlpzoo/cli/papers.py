"""``mlpzoo papers``: the paper catalog with each claim's last verdict."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["table", "markdown"]), default="table", help="Terminal table or Markdown."
)
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where claim results are looked up.",
)
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
