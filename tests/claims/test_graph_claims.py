"""ff-g2m, mowst and elliptic-aml: verdicts on hand-made tables, and a quick run of each."""

import math

import pytest

from mlpzoo.claims import elliptic_aml, ff_g2m, get_claim, mowst
from mlpzoo.claims.base import VERDICTS, get_budget


def _ff_table(groups, std=0.01, n=5):
    return [{"dataset": d, "teacher": t, "setting": "transductive", "model": m, "n": n,
             "test_acc_mean": v, "test_acc_std": std}
            for (d, t), values in groups.items() for m, v in values.items()]


GOOD = {"teacher": 0.81, "mlp": 0.59, "glnn": 0.80, "ffg2m": 0.815}
FF_BELOW_GLNN = {**GOOD, "ffg2m": 0.75}


def test_ff_g2m_verdicts():
    assert ff_g2m.verdict(_ff_table({("cora", "gcn"): GOOD, ("cora", "sage"): GOOD}))[0] == "reproduced"
    assert ff_g2m.verdict(_ff_table({("cora", "gcn"): GOOD, ("cora", "sage"): FF_BELOW_GLNN}))[0] == "partly reproduced"
    assert ff_g2m.verdict(_ff_table({("cora", "gcn"): FF_BELOW_GLNN}))[0] == "not reproduced"
    # GLNN no better than the MLP fails the ordering.
    assert ff_g2m.verdict(_ff_table({("cora", "gcn"): {**GOOD, "glnn": 0.59}}))[0] == "not reproduced"
    # Far below the teacher fails "close to the teacher", even in the right order.
    far = {"teacher": 0.90, "mlp": 0.59, "glnn": 0.70, "ffg2m": 0.72}
    assert ff_g2m.verdict(_ff_table({("cora", "gcn"): far}))[0] == "not reproduced"


def _mowst_table(values, std=0.01):
    return [{"dataset": d, "model": m, "n": 5, "test_acc_mean": v, "test_acc_std": std}
            for d, row in values.items() for m, v in row.items()]


def test_mowst_verdicts():
    ok = {"mlp": 0.6, "gcn": 0.81, "mowst (mixture)": 0.81}
    bad = {"mlp": 0.6, "gcn": 0.81, "mowst (mixture)": 0.75}
    assert mowst.verdict(_mowst_table({"cora": ok, "citeseer": ok}))[0] == "reproduced"
    assert mowst.verdict(_mowst_table({"cora": ok, "citeseer": bad}))[0] == "partly reproduced"
    assert mowst.verdict(_mowst_table({"cora": bad}))[0] == "not reproduced"
    # Within one standard error of the better expert counts as a match.
    assert mowst.verdict(_mowst_table({"cora": {**ok, "mowst (mixture)": 0.805}}))[0] == "reproduced"


def test_elliptic_verdict_is_not_checkable_and_reports_the_stand_in():
    rows = [{"model": m, "n": 3, "illicit_f1_mean": v, "illicit_f1_std": 0.01} for m, v in
            {"logistic_regression": 0.4, "random_forest": 0.7, "mlp": 0.6, "gcn": 0.5, "random_forest_embeddings": 0.75}.items()]
    outcome, reason = elliptic_aml.verdict(rows)
    assert outcome == "not checkable here"
    assert "RF strongest: yes" in reason and "embeddings help: yes" in reason
    rows[1]["illicit_f1_mean"] = 0.3
    assert "RF strongest: no" in elliptic_aml.verdict(rows)[1]


def _fake_runs(monkeypatch, module):
    """Replace the per-seed experiment of ``module`` by canned records; returns the list of seeds it was called with."""
    called = []
    if module is elliptic_aml:
        def run_seed(seed, s):
            called.append(seed)
            return [{"model": m, "seed": seed, "illicit_f1": 0.5} for m in elliptic_aml.MODELS]
        monkeypatch.setattr(module, "run_seed", run_seed)
        return called
    monkeypatch.setattr(module, "_graph", lambda name, data_dir: type("Graph", (), {"name": name})())
    if module is mowst:
        def run_seed(graph, seed, s):
            called.append(seed)
            return [{"dataset": graph.name, "seed": seed, "model": m, "test_acc": 0.8} for m in ("mlp", "gcn", "mowst (mixture)")]
        monkeypatch.setattr(module, "run_seed", run_seed)
    else:
        def run_distillation(graph, teacher, setting, seed, t_cfg, st_cfg):
            called.append(seed)
            return [{"dataset": graph.name, "teacher": teacher, "setting": setting, "seed": seed, "model": m, "test_acc": 0.8}
                    for m in ("ffg2m", "glnn", "mlp", "teacher")]
        monkeypatch.setattr(module, "run_distillation", run_distillation)
    return called


@pytest.mark.parametrize("module", [ff_g2m, mowst, elliptic_aml])
def test_seeds_option_overrides_the_settings(module, monkeypatch, tmp_path):
    called = _fake_runs(monkeypatch, module)
    result = module.run(get_budget("quick", seeds=3), runs_dir=tmp_path, log=lambda s: None)
    assert result.seeds == [0, 1, 2] and sorted(set(called)) == [0, 1, 2]
    called.clear()
    result = module.run(get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)  # no --seeds: the claim's own count
    assert result.seeds == list(range(module.SETTINGS["quick"]["seeds"])) and set(called) == set(result.seeds)


@pytest.mark.slow
@pytest.mark.parametrize("paper_id", ["ff-g2m", "mowst"])
def test_quick_runs_on_cora(paper_id, tmp_path, need_data):
    need_data("planetoid")
    result = get_claim(paper_id).run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS[:3]
    assert all(math.isfinite(r["test_acc_mean"]) and 0 <= r["test_acc_mean"] <= 1 for r in result.table)
    assert {r["dataset"] for r in result.table} == {"cora"}
    assert paper_id in result.to_markdown()


@pytest.mark.slow
def test_elliptic_quick_run(tmp_path):
    result = get_claim("elliptic-aml").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict == "not checkable here"
    assert {r["model"] for r in result.table} == set(elliptic_aml.MODELS)
    assert any("STAND-IN" in n for n in result.notes)
