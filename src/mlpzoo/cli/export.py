"""``mlpzoo export``: a run's best checkpoint to ONNX, checked in onnxruntime."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console, say


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (default: RUN_DIR/model.onnx).",
)
@click.option("--force", is_flag=True, help="Replace an existing output file (never a checkpoint).")
def export(run_dir: Path, fmt: str, output: Path | None, force: bool) -> None:
    """Export a run's best checkpoint to ONNX and check it in onnxruntime against PyTorch."""
    from mlpzoo.export import export_run

    result = export_run(run_dir, output, log=lambda line: console.print(line, highlight=False), force=force)
    say(
        f"wrote {result.path} ({result.exporter} exporter, opset {result.opset}); inputs {', '.join(result.inputs)} "
        f"with a dynamic batch axis; onnxruntime vs PyTorch max abs diff {result.max_abs_diff:.2e}"
    )
