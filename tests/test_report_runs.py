"""mlpzoo report: one page over many runs and claim results, in Markdown or HTML."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mlpzoo.claims.base import ClaimResult
from mlpzoo.cli import main
from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import ConfigError
from mlpzoo.registry import create_model
from mlpzoo.report_runs import collect, render_html, render_markdown, write_runs_report
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished regression runs (an MLP and a KAN), one interrupted run, one claim result."""
    root = tmp_path_factory.mktemp("runs")
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    data = ArrayData(x, x.sum(1))
    for name, epochs in (("mlp", 3), ("kan_rbf", 2)):
        model = create_model(name, in_features=2, hidden=(4,))
        Trainer(
            get_task("regression"),
            model,
            {"epochs": epochs, "batch_size": 16, "run_dir": str(root / "fits"), "run_name": name, "progress": False},
        ).fit(data, data, data)
    (root / "fits" / "interrupted").mkdir()
    (root / "fits" / "interrupted" / "config.yaml").write_text("model: {name: mlp}\n")
    ClaimResult(
        "kan-hea",
        "A KAN paper",
        "KAN beats MLP.",
        "quick",
        [1],
        [],
        [{"model": "kan", "n": 1, "test_rmse_mean": 0.25}],
        "not reproduced",
        "MLP was better | by far",
        finished_at="2026-01-01T00:00:00+00:00",
    ).save(root)
    return root


def test_markdown_report_over_a_folder_of_runs_and_a_claim(runs, tmp_path):
    out = tmp_path / "page" / "report.md"
    result = CliRunner().invoke(
        main, ["report", str(runs / "fits"), str(runs / "claims"), "--output", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "2 run(s), 1 claim result(s), 1 skipped" in result.output
    assert "interrupted: no result.json (unfinished, interrupted or pruned run)" in result.output
    page = out.read_text()
    assert (
        sum(line.startswith("| [") for line in page.splitlines()) == 2
    )  # one row a finished run, each linking its report
    for name in ("mlp", "kan_rbf"):
        saved = json.loads((runs / "fits" / name / "result.json").read_text())
        line = next(line for line in page.splitlines() if line.startswith(f"| [{name}]"))
        assert f"{saved['metrics']['test']['rmse']:.4f}" in line and f"{saved['parameters']:,}" in line
        assert f"| {saved['best_epoch']} | {saved['epochs_run']} |" in line
    for plot in ("report_learning_curves.png", "report_metric_vs_parameters.png"):
        assert (out.parent / plot).stat().st_size > 1000 and f"]({plot})" in page
    assert "Verdict: not reproduced. MLP was better" in page and "| kan | 1 | 0.2500 |" in page
    assert "## Skipped" in page


def test_html_report_is_self_consistent_and_escaped(runs, tmp_path):
    out = tmp_path / "report.html"
    written = write_runs_report([runs / "fits" / "mlp", runs / "claims" / "kan-hea"], out)
    assert (written.runs, written.claims, written.skipped) == (1, 1, 0)
    page = out.read_text()
    assert (
        page.startswith("<!doctype html>") and page.count("<table>") == 2 and "src='report_learning_curves.png'" in page
    )
    assert "MLP was better | by far" in page and "<td>mlp</td>" not in page  # the run name links to its own report
    assert "href='" in page and "report.md" in page


def test_renderers_agree_on_blocks():
    blocks = [
        ("h1", "T"),
        ("p", "a <b>"),
        ("table", ["x", "y"], [["1", ("n", "n/report.md")]]),
        ("img", "alt", "p.png"),
        ("list", ["s"]),
    ]
    markdown = render_markdown(blocks)
    assert (
        "| x | y |" in markdown and "[n](n/report.md)" in markdown and "![alt](p.png)" in markdown and "- s" in markdown
    )
    html = render_html(blocks)
    assert "a &lt;b&gt;" in html and "<a href='n/report.md'>n</a>" in html and "<li>s</li>" in html


def test_nothing_to_report_and_bad_output_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["report", str(tmp_path / "empty"), "--output", str(tmp_path / "r.md")])
    assert result.exit_code == 2 and "nothing to report" in result.output and "Traceback" not in result.output
    with pytest.raises(ConfigError, match="a .md or .html file"):
        write_runs_report([tmp_path], tmp_path / "report.pdf")


def test_duplicate_run_names_are_told_apart(runs, tmp_path):
    import shutil

    for study in ("a", "b"):
        shutil.copytree(runs / "fits" / "mlp", tmp_path / study / "mlp")
    found, _, _ = collect([tmp_path / "a", tmp_path / "b"])
    assert sorted(r.name for r in found) == ["a/mlp", "b/mlp"]


def test_report_finds_runs_at_any_depth_into_a_folder_under_runs(runs, tmp_path, monkeypatch):
    """``mlpzoo report`` with no argument: every fit and claim result below ./runs, the page in runs/report/."""
    import shutil

    shutil.copytree(runs, tmp_path / "runs")
    # A fit a claim made in its scratch folder, and an unreadable result, both deeper down.
    claim_fits = tmp_path / "runs" / "claims" / "kan-hea" / "work" / "quick-abc" / "fits"
    shutil.copytree(runs / "fits" / "mlp", claim_fits / "mlp")
    broken = tmp_path / "runs" / "tune" / "study" / "trial_3"
    broken.mkdir(parents=True)
    (broken / "result.json").write_text("{half a file")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    assert summary.startswith(f"wrote {Path('runs') / 'report' / 'report.md'}: 3 run(s), 1 claim result(s), 2 skipped")
    assert "1 no result.json (unfinished, interrupted or pruned run)" in summary
    assert "1 result.json is unreadable (JSONDecodeError)" in summary
    page = (tmp_path / "runs" / "report" / "report.md").read_text()
    assert "| [quick-abc/fits/mlp](" in page and "| [runs/fits/mlp](" in page  # same folder name: longer names
    assert (tmp_path / "runs" / "report" / "report_learning_curves.png").is_file()
    # Run again: the report folder itself is not taken for a run.
    again = CliRunner().invoke(main, ["report", "--format", "html"], catch_exceptions=False)
    assert "3 run(s), 1 claim result(s), 2 skipped" in again.output
    assert (tmp_path / "runs" / "report" / "report.html").read_text().startswith("<!doctype html>")


def test_claim_tables_show_no_std_for_one_seed_and_integers_as_integers(tmp_path):
    table = [{"model": "kan", "n": 1, "epochs": 2.0, "test_rmse_mean": 0.25, "test_rmse_std": float("nan")}]
    ClaimResult("kan-hea", "t", "c", "quick", [1], [], table, "not reproduced", "r").save(tmp_path)
    write_runs_report([tmp_path], tmp_path / "out")
    page = (tmp_path / "out" / "report.md").read_text()
    assert "| kan | 1 | 2 | 0.2500 | - |" in page
