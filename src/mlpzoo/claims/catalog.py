"""The catalog of the papers mlpzoo implements: one entry a paper, the one source of its id.

The catalog ships as ``catalog.yaml`` inside the package, so nothing outside the installed
package is read at run time. :mod:`mlpzoo.claims.papers` joins it with the verdicts.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources

import yaml

from mlpzoo.errors import ConfigError

FAMILIES = ("ctr", "vision", "kan", "graph", "sequence", "efficiency", "rl", "multimodal", "other")


@dataclass(frozen=True)
class PaperEntry:
    """One paper: what mlpzoo builds from it and which headline claim it checks."""

    id: str
    title: str
    venue: str | None
    year: int | None
    arxiv: str | None
    build: str
    claim: str
    data: str
    family: str


@lru_cache(maxsize=1)
def _catalog() -> tuple[PaperEntry, ...]:
    text = resources.files("mlpzoo.claims").joinpath("catalog.yaml").read_text(encoding="utf-8")
    names = {f.name for f in fields(PaperEntry)}
    entries = []
    for raw in yaml.safe_load(text):
        # A packaging mistake should fail loudly here, not as a KeyError deep in the CLI.
        if set(raw) != names or raw["family"] not in FAMILIES:
            raise ConfigError(f"catalog.yaml: malformed entry {raw.get('id')!r}; fix the packaged catalog")
        entries.append(PaperEntry(**raw))
    return tuple(entries)


def load_catalog() -> list[PaperEntry]:
    """All papers in catalog order (a fresh list; the entries themselves are immutable)."""
    return list(_catalog())


def get_paper(paper_id: str) -> PaperEntry:
    """The entry for ``paper_id``; an unknown id raises ConfigError naming close matches."""
    by_id = {entry.id: entry for entry in _catalog()}
    if paper_id in by_id:
        return by_id[paper_id]
    close = difflib.get_close_matches(paper_id, list(by_id), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise ConfigError(f"unknown paper id {paper_id!r}; {hint}run 'mlpzoo papers' for the list")
