"""grokking-tickets, hypernetworks and zaya1: verdicts on hand-made tables, and a quick run of each."""

import math

import pytest
import torch

from mlpzoo.claims import get_claim, grokking_tickets, hypernetworks, zaya1
from mlpzoo.claims.base import VERDICTS, get_budget


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grok_rows(dense=3000, ticket=600, no_wd=(1.0, 900), controls=(3000, 2800, 2500), std=50.0, n=3):
    def row(arm, fraction, wd, epochs, grokked=1.0):
        return {"arm": arm, "keep_fraction": fraction, "weight_decay": wd, "n": n, "epochs_to_95_mean": float(epochs),
                "epochs_to_95_std": std, "grokked_mean": grokked, "grokked_std": 0.0}
    rows = [row("dense", 1.0, 1.0, dense), row("ticket", 0.4, 1.0, ticket), row("ticket_no_wd", 0.4, 0.0, no_wd[1], no_wd[0])]
    rows += [row(arm, 1.0 if arm == "dense_same_norm" else 0.4, 1.0, e) for arm, e in zip(grokking_tickets.CONTROLS, controls)]
    return rows


def test_grokking_verdicts():
    assert grokking_tickets.verdict(_grok_rows())[0] == "reproduced"
    assert grokking_tickets.verdict(_grok_rows(no_wd=(0.0, 20000)))[0] == "partly reproduced"
    assert grokking_tickets.verdict(_grok_rows(controls=(3000, 620, 2500)))[0] == "partly reproduced"
    assert grokking_tickets.verdict(_grok_rows(ticket=2000, no_wd=(0.0, 20000)))[0] == "not reproduced"
    assert grokking_tickets.verdict(_grok_rows(ticket=2000))[0] == "partly reproduced"  # 1.5x only, but grokking without wd
    rows = _grok_rows()
    rows[0]["grokked_mean"] = 0.5
    outcome, reason = grokking_tickets.verdict(rows)
    assert outcome == "not reproduced" and "dense" in reason


def _hyper_rows(hyper_acc=0.95, mlp_acc=0.955, hyper_mse=0.3, mlp_mse=2.0, hyper_params=2000):
    rows = [{"part": "digits", "model": "mlp_w64", "adapt_steps": -1, "n": 3, "test_accuracy_mean": mlp_acc,
             "test_accuracy_std": 0.005, "trainable_parameters_mean": 4810.0},
            {"part": "digits", "model": "hyper_a", "adapt_steps": -1, "n": 3, "test_accuracy_mean": hyper_acc,
             "test_accuracy_std": 0.005, "trainable_parameters_mean": float(hyper_params)}]
    for model, mse in (("hyper_task_embedding", hyper_mse), ("mlp_finetune", mlp_mse)):
        rows.append({"part": "sine_adaptation", "model": model, "adapt_steps": 10, "n": 3, "query_mse_mean": mse,
                     "query_mse_std": 0.1, "trainable_parameters_mean": 8.0})
    return rows


def test_hypernetworks_verdicts():
    assert hypernetworks.verdict(_hyper_rows())[0] == "reproduced"
    assert hypernetworks.verdict(_hyper_rows(hyper_acc=0.8))[0] == "partly reproduced"
    assert hypernetworks.verdict(_hyper_rows(hyper_params=4000))[0] == "partly reproduced"  # not fewer than half
    assert hypernetworks.verdict(_hyper_rows(hyper_acc=0.8, hyper_mse=2.5))[0] == "not reproduced"


def _size_rows(gains, std=0.5, n=3):
    rows = []
    for pair, (naive, aligned) in gains.items():
        for model, g in (("naive", naive), ("aligned", aligned)):
            rows.append({"part": "sizing", "pair": pair, "model": model, "n": n, "gflops_mean": g, "gflops_std": std})
    return rows


def test_zaya1_verdicts():
    assert zaya1.verdict(_size_rows({"1000/1024": (30, 36), "3000/3072": (30, 33)}))[0] == "reproduced"
    assert zaya1.verdict(_size_rows({"1000/1024": (30, 36), "3000/3072": (30, 30.2)}))[0] == "partly reproduced"
    assert zaya1.verdict(_size_rows({"1000/1024": (30, 30.4)}))[0] == "not reproduced"  # 1.3 %: below 2 %
    assert zaya1.verdict(_size_rows({"1000/1024": (30, 33)}, std=8.0))[0] == "not reproduced"  # within the noise


@pytest.mark.slow
def test_grokking_tickets_quick(tmp_path, one_thread):
    result = get_claim("grokking-tickets").run(get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    arms = {row["arm"] for row in result.table}
    assert {"dense", "ticket", "ticket_no_wd", "random_mask", "dense_same_norm"} <= arms
    assert all(math.isfinite(row["epochs_to_95_mean"]) for row in result.table)
    assert list((tmp_path / "claims" / "grokking-tickets").glob("curves-*.png"))


@pytest.mark.slow
def test_hypernetworks_quick(tmp_path, one_thread):
    result = get_claim("hypernetworks").run(get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    digits = [r for r in result.table if r["part"] == "digits"]
    assert all(0.1 < r["test_accuracy_mean"] <= 1 for r in digits)
    assert any(r["model"].startswith("hyper") and r["trainable_parameters_mean"] < 4810 for r in digits)
    assert any(r["part"] == "sine_adaptation" and math.isfinite(r["query_mse_mean"]) for r in result.table)


@pytest.mark.slow
def test_zaya1_quick(tmp_path, one_thread):
    result = get_claim("zaya1").run(get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    sizing = {r["model"]: r for r in result.table if r["part"] == "sizing"}
    assert sizing["naive"]["gflops_mean"] > 0 and sizing["aligned"]["gflops_mean"] > 0
    assert {r["model"] for r in result.table if r["part"].startswith("moe_")} == {"moe_mlp", "dense_mlp"}
