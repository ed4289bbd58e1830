"""Claims: one module per paper that checks its headline claim and prints an honest verdict.

The catalog (``catalog.yaml``) is the one list of paper ids; a paper's claim module is
``mlpzoo.claims.<id with - written _>`` (see :mod:`mlpzoo.claims.base` for what it declares), so a
new claim is its catalog entry and its file, and nothing else lists it.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from mlpzoo.errors import ConfigError


def module_name(paper_id: str) -> str:
    return f"mlpzoo.claims.{paper_id.replace('-', '_')}"


def implemented_claims() -> list[str]:
    """Catalog ids that have a claim module, in catalog order."""
    from mlpzoo.claims.catalog import load_catalog

    return [entry.id for entry in load_catalog() if importlib.util.find_spec(module_name(entry.id)) is not None]


def get_claim(paper_id: str):
    """The claim module of ``paper_id``; an unknown id or one without a module raises ConfigError."""
    from mlpzoo.claims.catalog import get_paper

    get_paper(paper_id)  # an unknown id gets the catalog's "did you mean" error
    if importlib.util.find_spec(module_name(paper_id)) is None:
        raise ConfigError(f"paper {paper_id!r} has no claim module yet; implemented: {', '.join(implemented_claims())}")
    return importlib.import_module(module_name(paper_id))


def run(
    paper_id: str, budget, data_dir=None, runs_dir: Path = Path("runs"), log=print, progress: bool = False, console=None
):
    """Run the claim of ``paper_id`` under ``budget`` and return its :class:`~mlpzoo.claims.base.ClaimResult`."""
    from mlpzoo.claims.base import run_claim
    from mlpzoo.claims.catalog import get_paper

    module = get_claim(paper_id)
    entry = get_paper(paper_id)
    title = f"{entry.title} ({entry.venue or entry.year or 'preprint'})"
    return run_claim(paper_id, title, module, budget, data_dir, runs_dir, log, progress, console)
