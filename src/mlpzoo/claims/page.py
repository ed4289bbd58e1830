"""The reproducibility page and the README's Verdicts table, both generated from the verdict ledger.

``mlpzoo report --claims`` writes ``index.html`` and ``claims.md`` (default: into ``results/``, where
they are committed so a visitor reads them without installing anything): every paper of the catalog,
the claim sentence, the verdict with its reason, our number beside the paper's, the evidence table,
the plots stored with the entry, and where and on which code the entry was made. The HTML is static
(no script, no external resource) so it renders the same anywhere.

:func:`update_readme` rewrites the README's table between ``<!-- verdicts:start -->`` and
``<!-- verdicts:end -->``: one row per implemented claim, "no full-budget entry yet" where the
ledger has none. Everything here is a pure function of the catalog, the claim modules and the ledger
(no clock), so a test can check that the committed page and README are current.
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpzoo.claims import get_claim, implemented_claims
from mlpzoo.claims.base import SPREAD_NOTE, format_cell, integral_columns, markdown_table
from mlpzoo.claims.catalog import load_catalog
from mlpzoo.claims.ledger import (
    RERUN,
    calibration_rows,
    default_results_dir,
    entry_folder,
    evidence_rows,
    is_stale,
    our_number,
    paper_number,
    read_entries,
)
from mlpzoo.errors import ConfigError

NO_ENTRY = "no full-budget entry yet"
CALIBRATION_CAPTION = (
    "Calibration: our number beside the paper's own, on matching data and protocol (gap in paper sds):"
)
NO_CLAIM = "no claim module yet"
START, END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"
HTML_NAME, MARKDOWN_NAME = "index.html", "claims.md"
TITLE = "mlpzoo: the papers' claims and our verdicts"
INTRO = (
    "Each implemented claim is checked by running the paper's experiment at mlpzoo's full budget on this project's "
    "2-core CPU machine; the verdict is computed from the evidence table by the claim's own verdict function. "
    f"{SPREAD_NOTE} Re-run any entry with `{RERUN}`."
)


@dataclass
class PaperRow:
    """One paper on the page: the catalog's facts, the claim sentence checked, and its ledger entry if any."""

    id: str
    title: str
    venue: str | None
    year: int | None
    arxiv: str | None
    claim: str
    has_claim: bool
    entry: dict[str, Any] | None
    stale: bool
    ours: str
    paper: str
    plots: list[str]

    @property
    def verdict(self) -> str:
        if self.entry is not None:
            return self.entry["verdict"]
        return NO_ENTRY if self.has_claim else NO_CLAIM

    @property
    def cited(self) -> str:
        return self.venue or (str(self.year) if self.year else "preprint")


def page_rows(results_dir: Path | None = None) -> list[PaperRow]:
    """Every catalog paper with its claim sentence and its full-budget ledger entry (if any)."""
    entries = read_entries(results_dir)
    implemented = set(implemented_claims())
    rows = []
    for paper in load_catalog():
        module = get_claim(paper.id) if paper.id in implemented else None
        entry = entries.get(paper.id) if module is not None else None
        spec = getattr(module, "SPEC", None)
        claim = spec.claim if spec is not None else getattr(module, "CLAIM", None) or paper.claim
        plots = [name for name in (entry or {}).get("files", []) if name.endswith(".png")]
        rows.append(
            PaperRow(
                id=paper.id,
                title=paper.title,
                venue=paper.venue,
                year=paper.year,
                arxiv=paper.arxiv,
                claim=claim,
                has_claim=module is not None,
                entry=entry,
                stale=entry is not None and is_stale(entry),
                plots=plots,
                ours=our_number(entry["table"], module) if entry else "-",
                paper=paper_number(entry.get("paper_numbers") or {})
                if entry
                else paper_number(dict(getattr(spec, "paper_numbers", {}) or {})),
            )
        )
    return rows


# --- Markdown ---------------------------------------------------------------------------------------------


def render_markdown(rows: list[PaperRow]) -> str:
    lines = [
        f"# {TITLE}",
        "",
        INTRO,
        "",
        _counts(rows),
        "",
        "| paper | verdict | ours | paper's |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| [{row.id}](#{row.id}) | {_cell(_verdict_text(row))} | {_cell(row.ours)} | {_cell(row.paper)} |"
        )
    for row in rows:
        lines += ["", f'<a id="{row.id}"></a>', "", f"## {row.id}: {row.title} ({row.cited})", ""]
        if row.arxiv:
            lines += [f"arXiv: [{row.arxiv}](https://arxiv.org/abs/{row.arxiv})", ""]
        lines += [
            f"**Claim.** {row.claim}",
            "",
            f"**Verdict: {_verdict_text(row)}.**" + (f" {row.entry['reason']}" if row.entry else ""),
            "",
        ]
        if row.entry is None:
            continue
        lines += [f"- ours: {row.ours}", f"- paper's: {row.paper}", ""]
        lines += markdown_table(evidence_rows(row.entry["table"]))
        calibration = calibration_rows(row.entry["table"])
        if calibration:
            lines += ["", CALIBRATION_CAPTION, ""] + markdown_table(calibration)
        lines += [""] + [f"![{name}](claims/{row.id}/{name})" for name in row.plots]
        lines += ["", _provenance(row)]
        notes = row.entry.get("notes") or []
        if notes:
            lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict_text(row: PaperRow) -> str:
    return f"{row.verdict} (stale: the claim's code changed since)" if row.stale else row.verdict


def _counts(rows: list[PaperRow]) -> str:
    implemented = [r for r in rows if r.has_claim]
    recorded = [r for r in implemented if r.entry is not None]
    tally: dict[str, int] = {}
    for row in recorded:
        tally[row.verdict] = tally.get(row.verdict, 0) + 1
    verdicts = ", ".join(f"{count} {verdict}" for verdict, count in sorted(tally.items()))
    return f"{len(rows)} papers, {len(implemented)} with a claim module, {len(recorded)} with a full-budget entry" + (
        f": {verdicts}." if verdicts else "."
    )


def _provenance(row: PaperRow) -> str:
    entry, env = row.entry, row.entry.get("environment") or {}
    machine = ", ".join(
        f"{key} {env[key]}" for key in ("cores", "cpu", "threads", "device", "torch", "python") if env.get(key)
    )
    resumed = entry.get("resumed_arms")
    wall = _minutes(entry["seconds"]) + (f" (resumed: {resumed} arms from an earlier session)" if resumed else "")
    load = env.get("load_1min") or {}
    if load.get("start") is not None and load.get("end") is not None:
        wall += f" at a 1-minute load of {load['start']:.1f} -> {load['end']:.1f}"
    return (
        f"Budget `{entry['budget']}`, seeds {entry['seeds']}, wall time {wall}, finished "
        f"{entry['finished_at']}; machine: {machine or 'not recorded'}; mlpzoo {env.get('mlpzoo', '?')} at commit "
        f"`{(env.get('commit') or 'unknown')[:12]}`, claim code hash `{entry['code_hash']}`"
        + (" (stale)." if row.stale else ".")
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


# --- HTML ---------------------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 13px; }
th, td { border: 1px solid #d0d0d7; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
section.paper { border-top: 2px solid #d0d0d7; margin-top: 2rem; }
.badge { display: inline-block; padding: 0 0.5rem; border-radius: 0.6rem; font-weight: 600; white-space: nowrap; }
.reproduced { background: #d6f5dd; } .partly-reproduced { background: #fff1c2; }
.not-reproduced { background: #ffd9d6; } .not-checkable-here, .no-entry, .no-claim { background: #e8e8ee; }
.stale { background: #ffe2b8; }
.provenance, .notes { color: #55555f; font-size: 13px; }
img { max-width: 100%; border: 1px solid #e0e0e6; }
"""


def render_html(rows: list[PaperRow]) -> str:
    out = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(TITLE)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(TITLE)}</h1>",
        f"<p>{_code_spans(INTRO)}</p>",
        f"<p>{_e(_counts(rows))}</p>",
        '<table class="summary">',
        "<thead><tr><th>paper</th><th>verdict</th><th>ours</th><th>paper's</th></tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        out.append(
            f'<tr data-paper="{_e(row.id)}"><td><a href="#{_e(row.id)}">{_e(row.id)}</a></td>'
            f"<td>{_badge(row)}</td><td>{_e(row.ours)}</td><td>{_e(row.paper)}</td></tr>"
        )
    out += ["</tbody>", "</table>"]
    for row in rows:
        out += _html_section(row)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_section(row: PaperRow) -> list[str]:
    arxiv = f' · <a href="https://arxiv.org/abs/{_e(row.arxiv)}">arXiv:{_e(row.arxiv)}</a>' if row.arxiv else ""
    out = [
        f'<section class="paper" id="{_e(row.id)}">',
        f"<h2>{_e(row.id)}: {_e(row.title)}</h2>",
        f"<p>{_e(row.cited)}{arxiv}</p>",
        f'<p class="claim"><strong>Claim.</strong> {_e(row.claim)}</p>',
        f'<p class="verdict"><strong>Verdict:</strong> {_badge(row)}'
        + (f" {_e(row.entry['reason'])}" if row.entry else "")
        + "</p>",
    ]
    if row.entry is not None:
        out += [
            '<table class="numbers">',
            f"<tr><th>ours</th><td>{_e(row.ours)}</td></tr>",
            f"<tr><th>paper's</th><td>{_e(row.paper)}</td></tr>",
            "</table>",
        ]
        out += _html_table(evidence_rows(row.entry["table"]))
        calibration = calibration_rows(row.entry["table"])
        if calibration:
            out += [f"<p>{_e(CALIBRATION_CAPTION)}</p>", *_html_table(calibration)]
        out += [
            f'<figure><img src="claims/{_e(row.id)}/{_e(name)}" alt="{_e(row.id)}: {_e(name)}"></figure>'
            for name in row.plots
        ]
        out.append(f'<p class="provenance">{_code_spans(_provenance(row))}</p>')
        notes = row.entry.get("notes") or []
        if notes:
            out += ['<ul class="notes">'] + [f"<li>{_e(note)}</li>" for note in notes] + ["</ul>"]
    out.append("</section>")
    return out


def _html_table(table: list[dict]) -> list[str]:
    if not table:
        return ["<p>(no rows)</p>"]
    columns = list(dict.fromkeys(c for row in table for c in row))
    integral = integral_columns(table)
    out = [
        '<table class="evidence">',
        "<thead><tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr></thead>",
        "<tbody>",
    ]
    for row in table:
        cells = []
        for column in columns:
            value = row.get(column)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f"<td{' class=num' if numeric else ''}>{_e(format_cell(value, column in integral))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return out + ["</tbody>", "</table>"]


def _badge(row: PaperRow) -> str:
    kind = {NO_ENTRY: "no-entry", NO_CLAIM: "no-claim"}.get(row.verdict, row.verdict.replace(" ", "-"))
    stale = ' <span class="badge stale">stale</span>' if row.stale else ""
    return f'<span class="badge {kind}">{_e(row.verdict)}</span>{stale}'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _code_spans(text: str) -> str:
    """Escape ``text`` and turn its `backtick` spans into <code>."""
    parts = _e(text).split("`")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


# --- Writing ---------------------------------------------------------------------------------------------


@dataclass
class WrittenPage:
    html: Path
    markdown: Path
    papers: int
    entries: int


def write_page(out_dir: Path | None = None, results_dir: Path | None = None) -> WrittenPage:
    """Write ``index.html`` and ``claims.md`` into ``out_dir`` (default: the results folder itself); the entries'
    plots are linked as ``claims/<id>/<file>`` and copied there when ``out_dir`` is elsewhere."""
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    rows = page_rows(results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() != results_dir.resolve():
        for row in rows:
            for name in row.plots:
                source = entry_folder(row.id, results_dir) / name
                if source.is_file():
                    (out_dir / "claims" / row.id).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, out_dir / "claims" / row.id / name)
    html_path, markdown_path = out_dir / HTML_NAME, out_dir / MARKDOWN_NAME
    html_path.write_text(render_html(rows), encoding="utf-8")
    markdown_path.write_text(render_markdown(rows), encoding="utf-8")
    return WrittenPage(html_path, markdown_path, len(rows), sum(r.entry is not None for r in rows))


# --- The README's Verdicts table -----------------------------------------------------------------------------


def verdicts_table(rows: list[PaperRow]) -> str:
    """The README's table: one row per implemented claim, from the ledger."""
    lines = ["| claim | verdict | ours | paper's | budget, seeds | wall time |", "|---|---|---|---|---|---|"]
    for row in rows:
        if not row.has_claim:
            continue
        if row.entry is None:
            lines.append(f"| `{row.id}` | {NO_ENTRY} | - | - | - | - |")
            continue
        entry = row.entry
        lines.append(
            f"| `{row.id}` | {_cell(_verdict_text(row))} | {_cell(row.ours)} | {_cell(row.paper)} | "
            f"{entry['budget']}, {len(entry['seeds'])} | {_minutes(entry['seconds'])} |"
        )
    return "\n".join(lines) + "\n"


def readme_with_verdicts(readme: str, rows: list[PaperRow]) -> str:
    """``readme`` with the text between the verdict markers replaced by :func:`verdicts_table`."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise ConfigError(f"README: needs one '{START}' line followed by one '{END}' line around the Verdicts table")
    head, rest = readme.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{verdicts_table(rows)}{END}{tail}"


def update_readme(readme_path: Path, results_dir: Path | None = None) -> bool:
    """Regenerate the README's Verdicts table from the ledger; True when the file changed."""
    readme_path = Path(readme_path)
    before = readme_path.read_text(encoding="utf-8")
    after = readme_with_verdicts(before, page_rows(results_dir))
    if after != before:
        readme_path.write_text(after, encoding="utf-8")
    return after != before
