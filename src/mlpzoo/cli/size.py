"""``mlpzoo size``: time an MLP block over candidate hidden widths on this device and recommend widths."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.cli.console import console


def _ints(text: str) -> list[int]:
    from mlpzoo.errors import ConfigError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise ConfigError(f"{text!r} is not a comma-separated list of integers, e.g. 1000,3000") from err


@click.command("size")
@click.option("--targets", default="1000,3000", show_default=True, help="Naive widths to improve on (comma-separated).")
@click.option("--dim", type=int, default=512, show_default=True, help="Model width (input and output of the block).")
@click.option("--tokens", type=int, default=1024, show_default=True, help="Rows per timed step.")
@click.option(
    "--tolerance", type=float, default=0.1, show_default=True, help="Candidates within this fraction of a target."
)
@click.option("--repeats", type=int, default=7, show_default=True, help="Timed steps per width (median).")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@click.option(
    "--plot", "plot_path", type=click.Path(path_type=Path), default=Path("runs/size/sweep.png"), show_default=True
)
def size_command(
    targets: str,
    dim: int,
    tokens: int,
    tolerance: float,
    repeats: int,
    threads: int | None,
    device: str,
    plot_path: Path,
) -> None:
    """GEMM sweep of Linear(dim, w) -> GELU -> Linear(w, dim), forward + backward; recommends widths with
    the best throughput per parameter near each target (ZAYA1-style hardware-aware sizing)."""
    import torch
    from rich.table import Table

    from mlpzoo.methods.sizing import candidate_widths, plot_sweep, recommend, sweep

    if threads:
        torch.set_num_threads(threads)
    wanted = _ints(targets)
    widths = sorted({w for t in wanted for w in candidate_widths(t, tolerance)})
    console.print(
        f"timing {len(widths)} widths on {device} ({torch.get_num_threads()} thread(s)), dim {dim}, {tokens} tokens"
    )
    timings = sweep(widths, dim, tokens, repeats, device=device)
    table = Table(show_header=True, header_style="bold", title="MLP block, forward + backward")
    for column in ("width", "parameters", "ms/step (median)", "ms/step (min)", "GFLOP/s"):
        table.add_column(column, justify="right")
    for t in timings:
        table.add_row(str(t.width), f"{t.parameters:,}", f"{t.step_ms:.2f}", f"{t.step_ms_min:.2f}", f"{t.gflops:.1f}")
    console.print(table)
    picks = Table(show_header=True, header_style="bold", title="Recommendations")
    for column in ("target", "recommended", "target GFLOP/s", "recommended GFLOP/s", "speed-up per parameter"):
        picks.add_column(column, justify="right")
    for row in recommend(timings, wanted, tolerance):
        picks.add_row(
            str(row["target"]),
            str(row["recommended"]),
            f"{row['target_gflops']:.1f}",
            f"{row['recommended_gflops']:.1f}",
            f"{row['speedup_per_parameter']:.3f}x",
        )
    console.print(picks)
    plot_path.parent.mkdir(parents=True, exist_ok=True)
    plot_sweep(timings, plot_path, title=f"MLP block on {device}, dim {dim}, {tokens} tokens")
    console.print(f"plot: {plot_path}")
