"""The rich console every command prints to, one-line errors, and evidence-style tables."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

# Logs and pipes get wide lines rather than rich's 80-column default, so tables stay readable.
console = Console(width=None if sys.stdout.isatty() else 200)


def say(line: str) -> None:
    """Print a plain line (no markup highlighting of numbers and paths)."""
    console.print(line, highlight=False)


def fail(err: Exception) -> None:
    """The error as one red line, exit status 2."""
    console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
    sys.exit(2)


def render_table(rows: list[dict], title: str | None = None) -> Table:
    """Rows of dicts as a table in the claims' number format: '-' for an undefined number (the std of
    one seed), whole-number columns without decimals, else four decimals. ``run_dir`` is left out."""
    from mlpzoo.claims.base import format_cell, integral_columns

    table = Table(show_header=True, header_style="bold", title=title)
    if not rows:
        return table
    columns = [c for c in rows[0] if c != "run_dir"]
    integral = integral_columns(rows)
    for column in columns:
        table.add_column(str(column))
    for row in rows:
        table.add_row(*(format_cell(row[c], c in integral) if c in row else "" for c in columns))
    return table
