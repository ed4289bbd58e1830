"""Options and argument parsing shared by several commands (threads, YAML config with --set overrides)."""

from __future__ import annotations

from pathlib import Path

import click

from mlpzoo.errors import ConfigError


def threads_option(default: int | None = None):
    """``--threads N``: CPU threads for torch (every command that trains takes it)."""
    return click.option("--threads", type=int, default=default, show_default=default is not None,
                        help="CPU threads for torch (default: torch's choice, usually all cores).")


def set_threads(threads: int | None) -> None:
    """Apply ``--threads`` before any model is built."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def read_spec(config: Path, overrides: tuple[str, ...]) -> dict:
    """The YAML file as a dict, with ``--set SECTION.KEY=VALUE`` overrides applied."""
    import yaml

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
