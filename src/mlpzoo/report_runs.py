"""One page comparing many runs: ``mlpzoo report RUN_DIR... --output report.md|report.html``.

Reads what every fit leaves in its run directory (``result.json``, ``metrics.jsonl``; see
:mod:`mlpzoo.train.report` for the single-run report each row links to) and what a claim run
leaves in ``runs/claims/<id>/<stamp>/result.json``. A folder stands for every run found below it,
at any depth (``runs`` covers ``runs/fits/*``, tuning studies, claim results and the fits claims
made under ``runs/claims/<id>/work/``). The page has a table of runs (model, parameters, every
metric, epochs, time), the learning curves of all runs overlaid, the monitored metric against the
parameter count, and each claim's verdict with its evidence table. Run folders that cannot be
reported (no ``result.json``: unfinished, interrupted or pruned; an unreadable one) are counted as
skipped, with the reason. The page and its plots go into one output folder (default
``runs/report/``).

The page is built once as blocks and written as Markdown or as HTML by a small renderer here,
so no Markdown package is needed; plots are PNG files beside the page.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlpzoo.claims.base import format_cell, integral_columns
from mlpzoo.errors import ConfigError, MlpzooError
from mlpzoo.train.report import _metric_names
from mlpzoo.train.rundir import RunDir

RUN_MARKERS = (RunDir.RESULT, RunDir.CONFIG, RunDir.LAST)
DEFAULT_OUTPUT = Path("runs") / "report"
PAGE_NAMES = {"markdown": "report.md", "html": "report.html"}
LEGEND_RUNS = 12  # more runs than this get no per-run legend or labels in the plots


@dataclass
class RunSummary:
    path: Path
    name: str
    model: str
    parameters: int | None
    monitor: str
    metrics: dict[str, dict[str, float]]
    best_epoch: int | None
    epochs_run: int | None
    train_seconds: float | None
    history: list[dict] = field(default_factory=list)

    def score(self, split: str) -> float:
        return self.metrics.get(split, {}).get(self.monitor, math.nan)


@dataclass
class ClaimSummary:
    path: Path
    result: dict


@dataclass
class WrittenReport:
    path: Path
    runs: int
    claims: int
    skipped: int
    skip_reasons: dict[str, int] = field(default_factory=dict)  # reason -> how many folders

    def summary(self) -> str:
        """``wrote PATH: 3 run(s), 1 claim result(s), 2 skipped (2 no result.json (...))``."""
        why = "; ".join(f"{n} {reason}" for reason, n in self.skip_reasons.items())
        return f"wrote {self.path}: {self.runs} run(s), {self.claims} claim result(s), {self.skipped} skipped" + (
            f" ({why})" if why else ""
        )


def collect(paths: list[Path]) -> tuple[list[RunSummary], list[ClaimSummary], list[str]]:
    """Runs, claim results and ``"folder: reason"`` for each skipped folder, found at any depth below ``paths``."""
    runs, claims, skipped = [], [], []
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            skipped.append(f"{path}: {'not a directory' if path.exists() else 'does not exist'}")
            continue
        members = find_runs(path)
        if not members:
            skipped.append(f"{path}: no result.json here and no run directories inside")
        for member in members:
            item = read_result(member)
            if isinstance(item, str):
                skipped.append(f"{member}: {item}")
            elif isinstance(item, ClaimSummary):
                claims.append(item)
            else:
                runs.append(item)
    _unique_names(runs)
    return runs, claims, skipped


def find_runs(root: Path) -> list[Path]:
    """Every run or claim-result folder at or below ``root``, sorted; a run's own subfolders are not searched."""
    found = []
    for folder, subfolders, _ in os.walk(root):
        if _is_run(Path(folder)):
            found.append(Path(folder))
            subfolders.clear()
        else:
            subfolders.sort()
    return found


def _reason(skipped_line: str) -> str:
    return skipped_line.rsplit(": ", 1)[-1] if ": " in skipped_line else skipped_line


def read_result(run_dir: Path) -> RunSummary | ClaimSummary | str:
    """A run's or claim's summary, or why it cannot be reported."""
    path = run_dir / "result.json"
    if not path.exists():
        return "no result.json (unfinished, interrupted or pruned run)"
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"result.json is unreadable ({type(err).__name__}); rerun or delete it"
    if isinstance(result, dict) and "verdict" in result and "paper_id" in result:
        return ClaimSummary(run_dir, result)
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        return "result.json holds no metrics (not written by the Trainer or a claim)"
    try:
        history = RunDir(run_dir).read_metrics()
    except MlpzooError as err:
        return str(err)
    return RunSummary(
        run_dir,
        run_dir.name,
        str(result.get("model", "?")),
        result.get("parameters"),
        str(result.get("monitor", "")),
        result["metrics"],
        result.get("best_epoch"),
        result.get("epochs_run"),
        result.get("train_seconds"),
        history,
    )


def _is_run(path: Path) -> bool:
    return any((path / marker).exists() for marker in RUN_MARKERS)


def _unique_names(runs: list[RunSummary]) -> None:
    """Runs sharing a folder name are named by as many trailing path parts as tell them apart."""
    for depth in range(2, max((len(r.path.parts) for r in runs), default=0) + 1):
        names = [r.name for r in runs]
        clashing = [r for r in runs if names.count(r.name) > 1]
        if not clashing:
            return
        for run in clashing:
            run.name = "/".join(run.path.parts[-depth:])


# ---------------------------------------------------------------------- plots
def plot_learning_curves(runs: list[RunSummary], path: Path) -> None:
    """Train loss and each monitored validation metric per epoch, every run on the same axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    monitors = sorted({r.monitor for r in runs if r.history})
    rows = math.ceil(min(len(runs), LEGEND_RUNS) / 3) if len(runs) <= LEGEND_RUNS else 0
    fig, axes = plt.subplots(
        1,
        1 + len(monitors),
        figsize=(5.5 * (1 + len(monitors)), 4 + 0.2 * rows),
        dpi=100,
        squeeze=False,
        layout="constrained",
    )
    panels = [("train_loss", "train loss", axes[0][0])] + [
        (f"valid_{m}", f"valid {m}", axes[0][i + 1]) for i, m in enumerate(monitors)
    ]
    for key, label, ax in panels:
        for run in runs:
            points = [(h["epoch"], h[key]) for h in run.history if key in h]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, label=run.name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(runs) <= LEGEND_RUNS:  # beyond that the legend hides the curves; the table names the runs
        fig.legend(
            *axes[0][0].get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncol=min(len(runs), 3)
        )
    fig.suptitle("learning curves")
    fig.savefig(path)
    plt.close(fig)


def plot_metric_vs_parameters(runs: list[RunSummary], path: Path) -> None:
    """The monitored metric (test when every run has it, else valid) against the parameter count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monitors = sorted({r.monitor for r in runs})
    fig, axes = plt.subplots(
        1, len(monitors), figsize=(5.5 * len(monitors), 4), dpi=100, squeeze=False, layout="constrained"
    )
    for monitor, ax in zip(monitors, axes[0]):
        group = [r for r in runs if r.monitor == monitor and r.parameters]
        split = "test" if all("test" in r.metrics for r in group) else "valid"
        for model in sorted({r.model for r in group}):  # one colour per model, so seeds and sizes of a model group
            members = [r for r in group if r.model == model]
            ax.scatter([r.parameters for r in members], [r.score(split) for r in members], s=25, label=model)
        if len(group) <= LEGEND_RUNS:
            for run in group:
                ax.annotate(
                    run.name, (run.parameters, run.score(split)), fontsize=7, xytext=(3, 3), textcoords="offset points"
                )
        ax.legend(fontsize=7, loc="best")
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel(f"{split} {monitor}")
    fig.suptitle("metric vs parameters")
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------- the page
def build_blocks(runs: list[RunSummary], claims: list[ClaimSummary], skipped: list[str], output: Path) -> list[tuple]:
    """The page as blocks: ``("h1"|"h2"|"p", text)``, ``("table", headers, rows)``, ``("img", alt, file)``,
    ``("list", items)``."""
    blocks: list[tuple] = [
        ("h1", "Runs report"),
        ("p", f"{len(runs)} run(s), {len(claims)} claim result(s), {len(skipped)} skipped."),
    ]
    if runs:
        splits = [s for s in ("valid", "test") if any(s in r.metrics for r in runs)]
        splits += sorted({s for r in runs for s in r.metrics} - set(splits))
        names = _metric_names(
            {"metrics": {s: {k: v for r in runs for k, v in r.metrics.get(s, {}).items()} for s in splits}}
        )
        headers = (
            ["run", "model", "parameters", "monitor"]
            + [f"{s} {m}" for s in splits for m in names]
            + ["best epoch", "epochs", "train s"]
        )
        rows = []
        for run in runs:
            report = run.path / "report.md"
            label = (run.name, os.path.relpath(report, output.parent)) if report.exists() else run.name
            rows.append(
                [label, run.model, _count(run.parameters), run.monitor]
                + [_number(run.metrics.get(s, {}).get(m)) for s in splits for m in names]
                + [_plain(run.best_epoch), _plain(run.epochs_run), _number(run.train_seconds, 1)]
            )
        blocks += [("h2", "Runs"), ("table", headers, rows)]
        stem = output.stem
        if any(r.history for r in runs):
            plot_learning_curves(runs, output.parent / f"{stem}_learning_curves.png")
            blocks += [("h2", "Learning curves"), ("img", "learning curves", f"{stem}_learning_curves.png")]
        if any(r.parameters for r in runs):
            plot_metric_vs_parameters(runs, output.parent / f"{stem}_metric_vs_parameters.png")
            blocks += [
                ("h2", "Metric vs parameters"),
                ("img", "metric vs parameters", f"{stem}_metric_vs_parameters.png"),
            ]
    for claim in claims:
        r = claim.result
        blocks += [
            ("h2", f"Claim {r['paper_id']}: {r.get('title', '')}"),
            ("p", f"Claim: {r.get('claim', '')}"),
            ("p", f"Verdict: {r['verdict']}. {r.get('reason', '')}"),
            (
                "p",
                f"Budget {r.get('budget', '?')}, seeds {r.get('seeds', '?')}, {_number(r.get('seconds'), 0)} s; "
                f"{claim.path}",
            ),
        ]
        table = r.get("table") or []
        if table:
            headers = list(dict.fromkeys(k for row in table for k in row if k != "run_dir"))
            integral = integral_columns(table)
            cells = [[format_cell(row.get(h), h in integral) for h in headers] for row in table]
            blocks.append(("table", headers, cells))
    if skipped:
        blocks += [("h2", "Skipped"), ("list", skipped)]
    return blocks


def render_markdown(blocks: list[tuple]) -> str:
    lines: list[str] = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2"):
            lines += [("# " if kind == "h1" else "## ") + rest[0], ""]
        elif kind == "p":
            lines += [rest[0], ""]
        elif kind == "list":
            lines += [f"- {item}" for item in rest[0]] + [""]
        elif kind == "img":
            lines += [f"![{rest[0]}]({rest[1]})", ""]
        elif kind == "table":
            headers, rows = rest
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def render_html(blocks: list[tuple], title: str = "Runs report") -> str:
    esc = html.escape
    parts = [
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{esc(title)}</title>",
        (
            "<style>body{font-family:sans-serif;max-width:1200px;margin:2em "
            "auto}table{border-collapse:collapse;font-size:13px}"
            "td,th{border:1px solid #ccc;padding:3px "
            "6px;text-align:right}td:first-child,th:first-child{text-align:left}"
            "img{max-width:100%}</style></head><body>"
        ),
    ]
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{esc(rest[0])}</{kind}>")
        elif kind == "list":
            parts.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in rest[0]) + "</ul>")
        elif kind == "img":
            parts.append(f"<p><img alt='{esc(rest[0])}' src='{esc(rest[1])}'></p>")
        elif kind == "table":
            headers, rows = rest
            parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def page_path(output: str | Path = DEFAULT_OUTPUT, fmt: str = "markdown") -> Path:
    """The page's file: ``output`` itself when it names a ``.md``/``.html`` file, else ``output/report.md|html``."""
    output = Path(output)
    if output.suffix in (".md", ".html", ".htm"):
        return output
    if output.suffix and not output.is_dir():
        raise ConfigError(f"--output {output}: name a folder, or a .md or .html file")
    if fmt not in PAGE_NAMES:
        raise ConfigError(f"format {fmt!r}: use one of {', '.join(PAGE_NAMES)}")
    return output / PAGE_NAMES[fmt]


def write_runs_report(
    paths: list[Path],
    output: str | Path = DEFAULT_OUTPUT,
    log: Callable[[str], None] = lambda line: None,
    fmt: str = "markdown",
) -> WrittenReport:
    """Write the page and its plots into the folder ``output`` (or to the ``.md``/``.html`` file it names)."""
    output = page_path(output, fmt)
    runs, claims, skipped = collect(paths)
    for line in skipped:
        log(f"skipped {line}")
    if not runs and not claims:
        raise ConfigError(
            f"nothing to report: none of {', '.join(map(str, paths))} holds a finished run or claim result"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    blocks = build_blocks(runs, claims, skipped, output)
    output.write_text(render_markdown(blocks) if output.suffix == ".md" else render_html(blocks))
    reasons = dict(Counter(_reason(line) for line in skipped).most_common())
    return WrittenReport(output, len(runs), len(claims), len(skipped), reasons)


def _md_cell(cell) -> str:
    text = f"[{cell[0]}]({cell[1]})" if isinstance(cell, tuple) else str(cell)
    return text.replace("|", "\\|")


def _html_cell(cell) -> str:
    if isinstance(cell, tuple):
        return f"<a href='{html.escape(cell[1])}'>{html.escape(cell[0])}</a>"
    return html.escape(str(cell))


def _number(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    return str(value)


def _count(value) -> str:
    return f"{value:,}" if isinstance(value, int) else ""


def _plain(value) -> str:
    return "" if value is None else str(value)


__all__ = [
    "ClaimSummary",
    "RunSummary",
    "WrittenReport",
    "build_blocks",
    "collect",
    "find_runs",
    "page_path",
    "plot_learning_curves",
    "plot_metric_vs_parameters",
    "read_result",
    "render_html",
    "render_markdown",
    "write_runs_report",
]
