"""Options and argument parsing shared by several commands (threads, YAML config with --set overrides)."""

from __future__ import annotations

from pathlib import Path

import click


def threads_option(default: int | None = None):
    """``--threads N``: CPU threads for torch (every command that trains takes it)."""
    return click.option(
        "--threads",
        type=int,
        default=default,
        show_default=default is not None,
        help="CPU threads for torch (default: torch's choice, usually all cores).",
    )


def set_threads(threads: int | None) -> None:
    """Apply ``--threads`` before any model is built."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def read_spec(config: Path, overrides: tuple[str, ...]) -> dict:
    """The YAML file as a dict, with ``--set SECTION.KEY=VALUE`` overrides applied (see :mod:`mlpzoo.config`)."""
    from mlpzoo.config import apply_overrides, read_yaml_file

    return apply_overrides(read_yaml_file(config), overrides, str(config))
