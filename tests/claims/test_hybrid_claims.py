"""The vision-hybrid claims (ninformer, spartan, efficientmod, dhvt) and their kit: verdicts on hand-made tables,
matched sizes in every budget, the reduced-data subset, the Pareto front, and one quick run each."""

import math

import pytest
import torch

from mlpzoo.claims import dhvt, efficientmod, ninformer, run, spartan
from mlpzoo.claims.base import VERDICTS, get_budget
from mlpzoo.claims.kits import hybrid


def _row(model, acc, regime="cifar10", std=math.nan, n=1, params=1.0e5, reference="ref", valid=0.5, **extra):
    row = {
        "regime": regime,
        "model": model,
        "n": n,
        "test_accuracy_mean": acc,
        "test_accuracy_std": std,
        "valid_accuracy_mean": valid,
        "valid_accuracy_std": std,
        "parameters": params,
        "parameter_tolerance": hybrid.PARAMETER_TOLERANCE,
        "reference": reference,
    }
    for key, value in extra.items():
        row[f"{key}_mean"], row[f"{key}_std"] = value, std
    return row


# ------------------------------------------------------------------------------------------------- ninformer
def _nin(mine, vit, mixer, **kw):
    return [_row(m, a, reference="ninformer", **kw) for m, a in (("ninformer", mine), ("vit", vit), ("mixer", mixer))]


def test_ninformer_verdict():
    assert ninformer.verdict(_nin(0.60, 0.55, 0.56))[0] == "reproduced"
    assert ninformer.verdict(_nin(0.60, 0.55, 0.62))[0] == "partly reproduced"
    assert ninformer.verdict(_nin(0.50, 0.55, 0.56))[0] == "not reproduced"
    # Inside one standard error of the difference is a tie, not a win; the same margin with tight seeds wins.
    outcome, reason = ninformer.verdict(_nin(0.57, 0.55, 0.56, std=0.03, n=3))
    assert outcome == "not reproduced" and "not beyond 1 SE" in reason
    assert ninformer.verdict(_nin(0.57, 0.55, 0.56, std=0.002, n=3))[0] == "reproduced"
    unequal = _nin(0.60, 0.55, 0.56)
    unequal[1]["parameters"] = 1.04e5
    outcome, reason = ninformer.verdict(unequal)
    assert outcome == "not checkable here" and "+4.0 %" in reason
    weak = _nin(0.60, 0.55, 0.56)
    weak[2]["valid_accuracy_mean"] = 0.12
    assert ninformer.verdict(weak)[0] == "not checkable here"


def test_ninformer_reason_tells_losses_from_ties():
    outcome, reason = ninformer.verdict(_nin(0.50, 0.55, 0.56))  # single run: below both
    assert outcome == "not reproduced" and "below vit, mixer beyond 1 SE" in reason and "not beyond" not in reason
    _, reason = ninformer.verdict(_nin(0.55, 0.50, 0.60, std=0.002, n=3))  # above the ViT, below the Mixer
    assert "below mixer beyond 1 SE" in reason and "not beyond" not in reason
    _, reason = ninformer.verdict(_nin(0.57, 0.55, 0.60, std=0.03, n=3))  # a tie with the ViT, a loss to the Mixer
    assert "not beyond 1 SE over vit" in reason and "below mixer beyond 1 SE" in reason


# --------------------------------------------------------------------------------------------------- spartan
def _spartan(mine, cnn, convnext, params=(1.0e5, 1.0e5, 1.0e5), **kw):
    return [
        _row(m, a, reference="cnn", params=p, accuracy_per_mparam=a / (p / 1e6), **kw)
        for (m, a), p in zip((("spartan", mine), ("cnn", cnn), ("convnext", convnext)), params)
    ]


def test_spartan_verdict_reads_accuracy_per_parameter():
    assert spartan.verdict(_spartan(0.60, 0.55, 0.56))[0] == "reproduced"
    assert spartan.verdict(_spartan(0.60, 0.62, 0.56))[0] == "partly reproduced"
    assert spartan.verdict(_spartan(0.50, 0.55, 0.56))[0] == "not reproduced"
    # Equal accuracy with 2.5 % fewer parameters is more accuracy per parameter (within the 3 % match).
    assert spartan.verdict(_spartan(0.55, 0.55, 0.55, params=(0.975e5, 1.0e5, 1.0e5)))[0] == "reproduced"
    outcome, reason = spartan.verdict(_spartan(0.57, 0.55, 0.56, std=0.5, n=3))  # per-Mparam spread of 0.5
    assert outcome == "not reproduced" and "not beyond 1 SE" in reason
    assert spartan.verdict(_spartan(0.60, 0.55, 0.56, params=(0.9e5, 1.0e5, 1.0e5)))[0] == "not checkable here"


def test_spartan_reason_tells_losses_from_ties():
    outcome, reason = spartan.verdict(_spartan(0.50, 0.55, 0.56))  # single run: below both per parameter
    assert outcome == "not reproduced" and "below cnn, convnext beyond 1 SE" in reason and "not beyond" not in reason
    _, reason = spartan.verdict(_spartan(0.60, 0.55, 0.65))
    assert "below convnext beyond 1 SE" in reason and "not beyond" not in reason


# ---------------------------------------------------------------------------------------------- efficientmod
def _mod(acc, b1, b64, vit_acc=0.55, vit_b1=1.0, vit_b64=20.0, **kw):
    return [
        _row("efficientmod-0", acc, reference="efficientmod-0", latency_b1_ms=b1, latency_b64_ms=b64, **kw),
        _row("vit-0", vit_acc, reference="efficientmod-0", latency_b1_ms=vit_b1, latency_b64_ms=vit_b64, **kw),
    ]


def test_efficientmod_verdict_needs_no_worse_accuracy_and_latency_and_one_better():
    assert efficientmod.verdict(_mod(0.60, 0.8, 15.0))[0] == "reproduced"  # dominates at both batch sizes
    assert efficientmod.verdict(_mod(0.60, 1.2, 15.0))[0] == "partly reproduced"  # slower at batch 1
    assert efficientmod.verdict(_mod(0.50, 0.8, 15.0))[0] == "not reproduced"  # faster but less accurate
    # Accuracy and batch-1 latency inside one SE tie; the batch-64 saving is beyond it: partly.
    tie = _mod(0.56, 0.99, 15.0, std=0.02, n=3)
    assert efficientmod.verdict(tie)[0] == "partly reproduced"
    unequal = _mod(0.60, 0.8, 15.0)
    unequal[1]["parameters"] = 0.9e5
    assert efficientmod.verdict(unequal)[0] == "not checkable here"


# ------------------------------------------------------------------------------------------------------ dhvt
def _dhvt(regimes, **kw):
    return [
        _row(m, a, regime=regime, reference="cnn", **kw)
        for regime, (vit, mine, cnn) in regimes.items()
        for m, a in (("vit", vit), ("dhvt", mine), ("cnn", cnn))
    ]


def test_dhvt_verdict_is_vit_below_dhvt_matching_cnn_in_each_regime():
    both = {"cifar10": (0.50, 0.60, 0.61), "cifar10-10pct": (0.30, 0.40, 0.40)}
    assert dhvt.verdict(_dhvt(both, std=0.02, n=3))[0] == "reproduced"  # 0.60 vs 0.61 is a tie with the CNN
    assert dhvt.verdict(_dhvt(both))[0] == "partly reproduced"  # single run: 0.60 < 0.61 counts as below
    gap = {"cifar10": (0.55, 0.55, 0.70), "cifar10-10pct": (0.30, 0.30, 0.45)}
    assert dhvt.verdict(_dhvt(gap, std=0.005, n=3))[0] == "not reproduced"
    weak = _dhvt(both, std=0.02, n=3)
    weak[5]["valid_accuracy_mean"] = 0.11  # the subset's CNN near chance: that regime says nothing
    outcome, reason = dhvt.verdict(weak)
    assert outcome == "reproduced" and "Left out" in reason
    for row in weak[:3]:
        row["valid_accuracy_mean"] = 0.11 if row["model"] == "cnn" else 0.5
    assert dhvt.verdict(weak)[0] == "not checkable here"


def test_dhvt_leaves_out_a_regime_without_a_vit_cnn_gap():
    # Everything within noise: no gap between ViT and CNN to close, so a tie with the CNN proves nothing.
    noise = {"cifar10": (0.50, 0.51, 0.52), "cifar10-10pct": (0.30, 0.31, 0.31)}
    outcome, reason = dhvt.verdict(_dhvt(noise, std=0.05, n=3))
    assert outcome == "not checkable here" and "no ViT-CNN gap to close" in reason
    # A gap on the full data (closed by DHVT), none on the subset: only the full regime is judged.
    mixed = {"cifar10": (0.50, 0.60, 0.61), "cifar10-10pct": (0.30, 0.31, 0.31)}
    outcome, reason = dhvt.verdict(_dhvt(mixed, std=0.02, n=3))
    assert outcome == "reproduced" and "Left out: cifar10-10pct: no ViT-CNN gap" in reason


def test_dhvt_vit_near_chance_on_validation_is_undertrained_not_beaten():
    both = {"cifar10": (0.50, 0.60, 0.61), "cifar10-10pct": (0.30, 0.40, 0.40)}
    weak = _dhvt(both, std=0.02, n=3)
    weak[3]["valid_accuracy_mean"] = 0.11  # the subset's ViT near chance
    outcome, reason = dhvt.verdict(weak)
    assert outcome == "reproduced" and "baseline vit (cifar10-10pct)" in reason
    weak[0]["valid_accuracy_mean"] = 0.11  # and the full regime's ViT: nothing left to judge
    assert dhvt.verdict(weak)[0] == "not checkable here"


# ------------------------------------------------------------------------------------------------------- kit
@pytest.mark.parametrize("module", [ninformer, spartan, efficientmod, dhvt])
@pytest.mark.parametrize("budget", ["quick", "full", "gpu"])
def test_every_budget_matches_parameters_within_three_percent(module, budget):
    arms = module.arms(module.SPEC.settings[budget])
    counts = {label: hybrid.parameter_count(name, kwargs) for label, (name, kwargs) in arms.items()}
    groups = {label.rsplit("-", 1)[-1] if "-" in label else "" for label in counts}
    for group in groups:
        members = [c for label, c in counts.items() if (label.rsplit("-", 1)[-1] if "-" in label else "") == group]
        assert max(members) / min(members) - 1 <= hybrid.PARAMETER_TOLERANCE, counts


def test_match_parameters_solves_an_integer_and_a_ratio_knob():
    target = hybrid.parameter_count("resnet_cifar", {})
    width = hybrid.match_parameters("mixer", {"dim": 64, "depth": 3}, "channel_hidden", target, (64, 128))
    assert isinstance(width["channel_hidden"], int)
    assert abs(hybrid.parameter_count("mixer", width) / target - 1) < 0.01
    ratio = hybrid.match_parameters("convnext_cifar", {"dims": (24, 48, 96)}, "mlp_ratio", target, (2.0, 4.0))
    assert abs(hybrid.parameter_count("convnext_cifar", ratio) / target - 1) < 0.01


def test_reduced_data_regime_keeps_a_fixed_class_balanced_share(monkeypatch):
    labels = torch.arange(10).repeat_interleave(20)
    images = torch.randint(0, 256, (200, 3, 8, 8), dtype=torch.uint8)
    split = {"train": (images, labels), "valid": (images[:10], labels[:10]), "test": (images[:10], labels[:10])}
    monkeypatch.setattr(hybrid, "cifar10_splits", lambda *args: split)
    settings = {"train_per_class": 20, "valid_per_class": 1, "test_per_class": 1}
    train, _, _ = hybrid.cifar10_data(settings, train_fraction=0.1)
    assert len(train) == 20 and torch.bincount(train.labels).tolist() == [2] * 10
    again, _, _ = hybrid.cifar10_data(settings, train_fraction=0.1)
    assert torch.equal(train.images, again.images)
    assert len(hybrid.cifar10_data(settings)[0]) == 200


def test_pareto_front():
    points = [(1.0, 0.5), (2.0, 0.7), (1.5, 0.4), (3.0, 0.65), (0.5, 0.3)]
    assert hybrid.pareto_front(points) == [(0.5, 0.3), (1.0, 0.5), (2.0, 0.7)]


def test_pareto_plot_is_written(tmp_path):
    runs = [
        {"model": m, "test_accuracy": a, "latency_b1_ms": b1, "latency_b64_ms": b64}
        for m, a, b1, b64 in (("efficientmod-0", 0.6, 1.0, 10.0), ("vit-0", 0.5, 1.2, 20.0))
    ]
    assert hybrid.plot_pareto(runs, tmp_path / "pareto.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("paper_id", ["ninformer", "spartan", "efficientmod", "dhvt"])
def test_quick_run(paper_id, need_data, tmp_path):
    data_dir = need_data("cifar10")
    result = run(paper_id, get_budget("quick"), data_dir, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS and result.paper_id == paper_id
    module = {"ninformer": ninformer, "spartan": spartan, "efficientmod": efficientmod, "dhvt": dhvt}[paper_id]
    assert module.verdict(result.table) == (result.verdict, result.reason)
    assert all(0.0 <= row["test_accuracy_mean"] <= 1.0 and row["parameters"] > 0 for row in result.table)
    assert hybrid.unequal_parameters(result.table) is None
    if paper_id == "efficientmod":
        assert list(tmp_path.glob("claims/efficientmod/work/*/pareto.png"))
        assert all(row["latency_b1_ms_mean"] > 0 and row["latency_b64_ms_mean"] > 0 for row in result.table)
    if paper_id == "dhvt":
        sizes = {row["regime"]: row["train_images"] for row in result.table}
        assert sizes["cifar10-10pct"] * 10 == sizes["cifar10"]
