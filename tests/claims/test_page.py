"""The reproducibility page and the README's Verdicts table: content, currency, and a real headless browser."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mlpzoo.claims import implemented_claims, page
from mlpzoo.claims.catalog import load_catalog
from mlpzoo.claims.ledger import plot_evidence, source_hash
from mlpzoo.claims.page import (
    END,
    NO_CLAIM,
    NO_ENTRY,
    START,
    page_rows,
    readme_with_verdicts,
    render_html,
    render_markdown,
    update_readme,
    verdicts_table,
    write_page,
)
from mlpzoo.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "results"
TABLE = [
    {"dataset": "frappe", "model": m, "n": 3, "test_auc_mean": v, "test_auc_std": 0.002}
    for m, v in [("finalmlp", 0.9712), ("dualmlp", 0.9650), ("dcn", 0.9601)]
]


def _entry(results: Path, paper_id: str, stale: bool = False, plot: bool = True) -> dict:
    """A hand-made ledger entry (the page shows entries; checking them is test_ledger's job)."""
    folder = results / "claims" / paper_id
    folder.mkdir(parents=True, exist_ok=True)
    files = ["report.md"]
    (folder / "report.md").write_text("# report\n")
    if plot:
        plot_evidence(TABLE, folder / "evidence.png")
        files.append("evidence.png")
    entry = {
        "schema": 1,
        "paper_id": paper_id,
        "title": "t",
        "claim": "c",
        "budget": "full",
        "seeds": [0, 1, 2],
        "table": TABLE,
        "verdict": "partly reproduced",
        "reason": "FinalMLP <leads> on frappe only",
        "paper_numbers": {"Table 2": "FinalMLP 0.9861"},
        "notes": ["a reduced | data set"],
        "finished_at": "2026-01-01T00:00:00+00:00",
        "seconds": 754.0,
        "code_hash": "0" * 16 if stale else source_hash(paper_id),
        "files": sorted(files),
        "environment": {
            "cores": 2,
            "cpu": "Test CPU",
            "threads": 1,
            "torch": "2.13.0",
            "device": "cpu",
            "mlpzoo": "0.1.0",
            "commit": "0123456789abcdef0123",
        },
    }
    (results / "claims" / f"{paper_id}.json").write_text(json.dumps(entry))
    return entry


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("results")
    _entry(results, "finalmlp")
    din = _entry(results, "din", stale=True, plot=False)
    din["table"] = [
        *TABLE,
        {
            "kind": "calibration",
            "dataset": "frappe",
            "model": "finalmlp",
            "role": "method",
            "paper_mean": 0.9861,
            "paper_sd": 0.0005,
            "paper_table": "Table 2",
            "ours_mean": 0.9712,
            "ours_sd": 0.002,
            "n": 3,
            "gap_sd": -29.8,
        },
    ]
    (results / "claims" / "din.json").write_text(json.dumps(din))
    return results


@pytest.fixture(scope="module")
def rows(ledger):
    # Every catalogued paper has a claim module now: hide mvp's, so the "no claim module yet" row stays checked.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(page, "implemented_claims", lambda: [c for c in implemented_claims() if c != "mvp"])
        return page_rows(ledger)


def test_rows_cover_every_paper(rows) -> None:
    assert [r.id for r in rows] == [p.id for p in load_catalog()]
    by_id = {r.id: r for r in rows}
    assert by_id["finalmlp"].verdict == "partly reproduced" and not by_id["finalmlp"].stale
    assert by_id["finalmlp"].ours.startswith("test_auc: frappe / finalmlp 0.9712 ± 0.0020")
    assert by_id["finalmlp"].paper == "FinalMLP 0.9861 (Table 2)" and by_id["finalmlp"].plots == ["evidence.png"]
    assert by_id["din"].stale and by_id["din"].plots == []
    assert by_id["hourglass"].verdict == NO_ENTRY and by_id["mvp"].verdict == NO_CLAIM
    assert by_id["mvp"].claim == load_catalog()[-1].claim


def test_markdown_page(rows) -> None:
    text = render_markdown(rows)
    summary = [line for line in text.splitlines() if line.startswith("| [")]
    assert len(summary) == len(load_catalog())
    assert "| [finalmlp](#finalmlp) | partly reproduced | test_auc: frappe / finalmlp 0.9712 ± 0.0020" in text
    assert "| [din](#din) | partly reproduced (stale: the claim's code changed since) |" in text
    assert "| [mvp](#mvp) | no claim module yet | - | - |" in text
    assert "**Claim.** FinalMLP > DualMLP >= DCN / DeepFM / DNN in test AUC." in text
    assert "| frappe | dualmlp | 3 | 0.9650 | 0.0020 |" in text  # the evidence table
    assert "![evidence.png](claims/finalmlp/evidence.png)" in text
    assert "wall time 12.6 min" in text and "commit `0123456789ab`" in text and "- a reduced | data set" in text
    assert text.count("\n## ") == len(load_catalog())


def test_calibration_rows_get_their_own_table(rows) -> None:
    text = render_markdown(rows)
    din = text[text.index("## din:") : text.index("## hourglass:")]
    assert "Calibration: our number beside the paper's own" in din
    assert "| frappe | finalmlp | method | 0.9861 | 0.0005 | Table 2 | 0.9712 | 0.0020 | 3 | -29.8000 |" in din
    assert "| kind |" in din and din.index("| kind |") > din.index("Calibration:")  # not mixed into the evidence
    assert "calibration" not in text[text.index("## finalmlp:") : text.index("## din:")]
    page = render_html(rows)
    assert page.count('<table class="evidence">') == 3  # finalmlp, din's evidence, din's calibration


def test_html_page_escapes_and_links(rows) -> None:
    page = render_html(rows)
    papers = len(load_catalog())
    assert page.count('<tr data-paper="') == papers and page.count('<section class="paper"') == papers
    assert "FinalMLP &lt;leads&gt; on frappe only" in page and "<leads>" not in page
    assert '<img src="claims/finalmlp/evidence.png"' in page and '<span class="badge stale">stale</span>' in page
    assert "<script" not in page and "http://" not in page  # static, nothing fetched from elsewhere


def test_write_page_copies_plots_when_written_elsewhere(ledger, tmp_path: Path) -> None:
    written = write_page(tmp_path / "site", ledger)
    assert (written.papers, written.entries) == (len(load_catalog()), 2)
    assert (tmp_path / "site" / "claims" / "finalmlp" / "evidence.png").is_file()
    assert written.html.read_text() == render_html(page_rows(ledger))
    in_place = write_page(results_dir=ledger)
    assert in_place.html == ledger / "index.html" and in_place.markdown == ledger / "claims.md"


def test_verdicts_table_and_readme_markers(rows) -> None:
    table = verdicts_table(rows)
    lines = table.strip().splitlines()
    assert len(lines) == 2 + len(implemented_claims()) - 1  # mvp's module is hidden by the rows fixture
    assert (
        "| `finalmlp` | partly reproduced | test_auc: frappe / finalmlp 0.9712" in table
        and "| full, 3 | 12.6 min |" in table
    )
    assert f"| `hourglass` | {NO_ENTRY} | - | - | - | - |" in table and "mvp" not in table
    readme = f"intro\n{START}\nold table\n{END}\nafter\n"
    assert readme_with_verdicts(readme, rows) == f"intro\n{START}\n{table}{END}\nafter\n"
    with pytest.raises(ConfigError, match="verdicts:start"):
        readme_with_verdicts("no markers here", rows)


def test_update_readme_rewrites_only_when_needed(ledger, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{START}\n{END}\n")
    assert update_readme(readme, ledger) is True
    assert update_readme(readme, ledger) is False
    assert "| `finalmlp` | partly reproduced" in readme.read_text()


# --- The committed README and page match the committed ledger ---------------------------------------------------


def test_readme_verdicts_match_the_ledger() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == readme_with_verdicts(readme, page_rows(LEDGER)), (
        "README's Verdicts table is out of date; run: mlpzoo report --claims"
    )


def test_committed_page_matches_the_ledger() -> None:
    rows = page_rows(LEDGER)
    assert (LEDGER / "claims.md").read_text(encoding="utf-8") == render_markdown(rows), "run: mlpzoo report --claims"
    assert (LEDGER / "index.html").read_text(encoding="utf-8") == render_html(rows), "run: mlpzoo report --claims"


# --- In a real headless browser -----------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
]


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("MLPZOO_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed while MLPZOO_REQUIRE_BROWSER=1; apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium); set MLPZOO_REQUIRE_BROWSER=1 to require it")
    return CHROMIUM


class DevTools:
    """Chromium driven over --remote-debugging-pipe (NUL-separated JSON on fds 3 and 4): no websocket package needed."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.commands_r, self.commands_w = os.pipe()
        self.replies_r, self.replies_w = os.pipe()
        redirect = f'exec "$0" "$@" 3<&{self.commands_r} 4>&{self.replies_w} {self.commands_r}<&- {self.replies_w}>&-'
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                redirect,
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(self.commands_r, self.replies_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(self.commands_r)
        os.close(self.replies_w)
        self.buffer, self.events, self.next_id = b"", [], 0

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.commands_w, json.dumps(message).encode() + b"\0")
        reply = self._until(lambda m: m.get("id") == self.next_id, timeout)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply.get("result", {})

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        seen = next((e for e in self.events if e.get("method") == method), None)
        return seen or self._until(lambda m: m.get("method") == method, timeout)

    def _until(self, wanted, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            assert left > 0, "chromium did not answer in time"
            if select.select([self.replies_r], [], [], left)[0]:
                chunk = os.read(self.replies_r, 1 << 16)
                assert chunk, "chromium closed the debugging pipe"
                self.buffer += chunk

    def close(self) -> None:
        try:
            os.write(self.commands_w, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self.commands_w)
        os.close(self.replies_r)


DOM_CHECK = """JSON.stringify({
  rows: document.querySelectorAll('tr[data-paper]').length,
  sections: document.querySelectorAll('section.paper').length,
  emptyRows: Array.from(document.querySelectorAll('tr[data-paper]'))
    .filter(r => r.getBoundingClientRect().height < 5).length,
  images: document.images.length,
  broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'))
})"""


def open_in_browser(binary: str, page: Path, profile: Path) -> tuple[dict, list[str]]:
    """Load ``page`` in headless Chromium; returns what the DOM holds and every console error, exception and failed
    load."""
    browser = DevTools(binary, profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        found = browser.call("Runtime.evaluate", {"expression": DOM_CHECK, "returnByValue": True}, session=session)
        dom = json.loads(found["result"]["value"])
    finally:
        browser.close()
    errors = []
    for event in browser.events:
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                "console." + params["type"] + ": " + " ".join(str(a.get("value")) for a in params.get("args", []))
            )
        elif event["method"] == "Runtime.exceptionThrown":
            errors.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry']['source']}: {params['entry']['text']} {params['entry'].get('url', '')}")
    return dom, errors


def screenshot(binary: str, page: Path, png: Path, profile: Path) -> None:
    subprocess.run(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1280,2400",
            page.resolve().as_uri(),
        ],
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_page_renders_every_row_without_console_errors(chromium, ledger, tmp_path: Path) -> None:
    written = write_page(tmp_path / "site", ledger)
    dom, errors = open_in_browser(chromium, written.html, tmp_path / "profile")
    assert errors == []
    assert dom == {
        "rows": len(load_catalog()),
        "sections": len(load_catalog()),
        "emptyRows": 0,
        "images": 1,
        "broken": [],
    }

    png = tmp_path / "page.png"
    screenshot(chromium, written.html, png, tmp_path / "profile-shot")
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (1280, 2400)
        colours = image.convert("L").getextrema()
    assert colours[1] - colours[0] > 100, "the screenshot is blank"


def test_browser_check_catches_a_broken_page(chromium, ledger, tmp_path: Path) -> None:
    """The check above can fail: a missing plot and a script error are both reported."""
    written = write_page(tmp_path / "site", ledger)
    (tmp_path / "site" / "claims" / "finalmlp" / "evidence.png").unlink()
    broken = written.html.read_text().replace(
        "</body>", "<script>console.error('boom'); undefinedCall();</script></body>"
    )
    written.html.write_text(broken)
    dom, errors = open_in_browser(chromium, written.html, tmp_path / "profile")
    assert dom["broken"] == ["claims/finalmlp/evidence.png"]
    assert any("console.error: boom" in e for e in errors)
    assert any(e.startswith("exception:") for e in errors)
    assert any("evidence.png" in e for e in errors)


def test_cli_report_claims_writes_the_page(ledger, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from mlpzoo.cli import main

    monkeypatch.setenv("MLPZOO_RESULTS", str(ledger))
    out = CliRunner().invoke(main, ["report", "--claims", "--output", str(tmp_path / "site")])
    assert out.exit_code == 0, out.output
    assert f"{len(load_catalog())} papers, 2 ledger entries" in out.output
    assert (tmp_path / "site" / "index.html").read_text() == render_html(page_rows(ledger))
    assert (tmp_path / "site" / "claims" / "finalmlp" / "evidence.png").is_file()
