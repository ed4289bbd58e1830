"""The text claims (img-text-match, armorm, mvp) and their kit: verdicts on hand-made tables (pass, fail, a tie
inside one SE), the stand-in data builders, the attack, and one quick run each on the real offline data."""

import math
import os
from pathlib import Path

import pytest
import torch

from mlpzoo.claims import armorm, img_text_match, mvp, run
from mlpzoo.claims.base import VERDICTS, get_budget
from mlpzoo.claims.kits import text
from mlpzoo.data.text import EMOJI_FONT, wordnet_dir


def require_text_data(what: str) -> None:
    """Skip (fail under MLPZOO_REQUIRE_DATA=1) without Debian's wordnet-base or fonts-noto-color-emoji: the text
    claims read those packages, not the data directory that the ``need_data`` fixture guards."""
    path = wordnet_dir() / "data.noun" if what == "wordnet" else Path(EMOJI_FONT)
    if path.is_file():
        return
    if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
        pytest.fail(f"{path} missing while MLPZOO_REQUIRE_DATA=1 (apt-get install wordnet-base fonts-noto-color-emoji)")
    pytest.skip(f"{path} missing; apt-get install wordnet-base fonts-noto-color-emoji")


def _row(key, name, metrics, std=math.nan, n=1, **extra):
    row = {key: name, "n": n, **extra}
    for metric, value in metrics.items():
        row[f"{metric}_mean"], row[f"{metric}_std"] = value, std
    return row


# ---------------------------------------------------------------------------------- img-text-match
def _matching(hardest, every, std=math.nan, n=1, r10=0.3, i2t=None, t2i=None, valid=(0.3, 0.3)):
    def row(name, rsum, i, t, valid_r10):
        recalls = {f"{d}_r@{k}": r10 for d in ("i2t", "t2i") for k in (1, 5, 10)}
        validation = {f"valid_{d}_r@10": valid_r10 for d in ("i2t", "t2i")}
        metrics = {"rsum": rsum, "i2t_rsum": i, "t2i_rsum": t, **recalls, **validation}
        return _row("negatives", name, metrics, std, n, test_pairs=276, valid_pairs=137, learns_factor=3.0)

    return [
        row(
            "hardest",
            hardest,
            i2t if i2t is not None else hardest / 2,
            t2i if t2i is not None else hardest / 2,
            valid[0],
        ),
        row("all", every, every / 2, every / 2, valid[1]),
    ]


def test_img_text_match_verdict():
    assert img_text_match.verdict(_matching(1.2, 1.0))[0] == "reproduced"
    assert img_text_match.verdict(_matching(0.8, 1.0))[0] == "reproduced"  # a difference either way matters
    outcome, reason = img_text_match.verdict(_matching(1.02, 1.0, std=0.05, n=3))
    assert outcome == "not reproduced" and "no difference beyond 1 SE" in reason
    # Overall a tie, one direction apart beyond 1 SE: the report's "specialize ... in one task".
    table = _matching(1.0, 1.0, std=0.01, n=3, i2t=0.7, t2i=0.3)
    assert img_text_match.verdict(table)[0] == "partly reproduced"
    outcome, reason = img_text_match.verdict(_matching(1.2, 1.0, valid=(0.05, 0.05)))
    assert outcome == "not checkable here" and "chance" in reason
    stricter = _matching(1.2, 1.0)  # the threshold is read from the table: 3x chance (10/137) is 0.219 < 0.3
    assert img_text_match.verdict(stricter)[0] == "reproduced"
    for row in stricter:
        row["learns_factor"] = 5.0
    assert img_text_match.verdict(stricter)[0] == "not checkable here"


def test_img_text_match_one_collapsed_arm_is_not_a_difference():
    # Hardest-negative training collapsed (validation recall@10 near chance) while "all" learned: the big test gap
    # says the hardest arm is undertrained, not that the negatives matter. The check reads validation, not test.
    collapsed = _matching(0.2, 1.5, r10=0.6, valid=(0.08, 0.6))
    outcome, reason = img_text_match.verdict(collapsed)
    assert outcome == "not checkable here" and "hardest-negatives" in reason and "validation" in reason


# ---------------------------------------------------------------------------------- armorm
def _armorm(gated, fixed=0.7, equal=0.6, std=math.nan, n=1):
    return [
        _row("mixing", name, {"test_pair_accuracy": value, "ratings_test_rmse": 0.2}, std, n, pairs_test=500)
        for name, value in (("gated", gated), ("fixed", fixed), ("equal", equal))
    ]


def test_armorm_verdict():
    assert armorm.verdict(_armorm(0.8))[0] == "reproduced"
    outcome, reason = armorm.verdict(_armorm(0.65))
    assert outcome == "partly reproduced" and "equal weights only" in reason
    assert armorm.verdict(_armorm(0.55))[0] == "not reproduced"
    # Inside one SE of both: a tie is never a win.
    assert armorm.verdict(_armorm(0.71, fixed=0.70, equal=0.70, std=0.05, n=5))[0] == "not reproduced"
    assert armorm.verdict(_armorm(0.71, fixed=0.70, equal=0.70, std=0.002, n=5))[0] == "reproduced"


def test_armorm_control_win_is_a_leak_not_a_reproduction():
    table = _armorm(0.8)
    control = {"control-gated": 0.75, "control-fixed": 0.75}
    table += [_row("mixing", name, {"test_pair_accuracy": value}, pairs_test=500) for name, value in control.items()]
    outcome, reason = armorm.verdict(table)
    assert outcome == "reproduced" and "control" in reason  # the gate only ties where one vector is right
    table[-2]["test_pair_accuracy_mean"] = 0.85  # the gate also "wins" the control: a leak
    outcome, reason = armorm.verdict(table)
    assert outcome == "partly reproduced" and "leak" in reason


def test_armorm_beta_start_is_chosen_on_validation_accuracy():
    assert armorm.choose_beta({1.0: 0.80, 10.0: 0.85}) == 10.0
    assert armorm.choose_beta({1.0: 0.90, 10.0: 0.85}) == 1.0
    assert armorm.choose_beta({1.0: 0.85, 10.0: 0.85}) == 1.0  # a tie keeps the smaller start
    assert set(armorm.BETAS) == {1.0, 10.0}


def test_armorm_stand_in_preferences_follow_the_stated_rule():
    require_text_data("wordnet")
    from mlpzoo.data import load_dataset

    requests = text.definition_requests(load_dataset("wordnet", pos=("noun",)), 30)
    assert len(requests) == 30 and {r["style"] for r in requests} == set(text.REQUEST_STYLES)
    for r in requests:
        assert len(r["responses"]) == len(r["ratings"]) == len(text.RESPONSES)
        assert r["ratings"][0][0] == 1.0 and r["ratings"][3][0] == 0.0  # own definition right, sibling wrong
        assert r["ratings"][1][2] == 1.0 and r["ratings"][0][2] == 0.0  # the example objective
    pairs = text.preference_pairs(requests)
    brief = next(i for i, r in enumerate(requests) if r["style"] == "brief")
    # A brief request prefers the bare definition to the same definition with an example.
    assert (brief, 0, 1) in pairs and (brief, 1, 0) not in pairs


# ---------------------------------------------------------------------------------- mvp
def _mvp(prompt_robust, mlp_robust=0.4, prompt_clean=0.8, mlp_clean=0.8, std=math.nan, n=1):
    def row(head, clean, robust):
        metrics = {"clean_accuracy": clean, "robust_accuracy": robust, "mean_substitutions": 2.0}
        return _row("head", head, metrics, std, n, mlm_valid_accuracy=0.3, classes=4, in_distribution=1.5)

    return [row("prompt", prompt_clean, prompt_robust), row("mlp", mlp_clean, mlp_robust)]


def test_mvp_verdict():
    assert mvp.verdict(_mvp(0.5))[0] == "reproduced"
    assert mvp.verdict(_mvp(0.3))[0] == "not reproduced"
    outcome, reason = mvp.verdict(_mvp(0.5, prompt_clean=0.7))
    assert outcome == "partly reproduced" and "less accurate on clean text" in reason
    assert mvp.verdict(_mvp(0.42, std=0.05, n=3))[0] == "not reproduced"  # inside one SE
    outcome, reason = mvp.verdict(_mvp(0.3, mlp_clean=0.3))
    assert outcome == "not checkable here" and "failed in distribution" in reason


def test_synonym_attack_flips_a_word_classifier():
    class WordVote(torch.nn.Module):
        """Class 1 when token 5 is present, else class 0."""

        def forward(self, tokens):
            has = tokens.eq(5).any(1).float()
            return torch.stack([1 - has, has], 1) * 4

    tokens = torch.tensor([[3, 5, 7, 0], [3, 7, 7, 0]])
    labels = torch.tensor([1, 0])
    result = text.synonym_attack(WordVote(), tokens, labels, {5: [9]}, max_fraction=0.5)
    assert result["clean_accuracy"] == 1.0 and result["robust_accuracy"] == 0.5 and result["mean_substitutions"] == 0.5
    assert text.synonym_attack(WordVote(), tokens, labels, {}, 0.5)["robust_accuracy"] == 1.0


# ---------------------------------------------------------------------------------- quick runs
@pytest.mark.slow
@pytest.mark.parametrize("paper_id", ["img-text-match", "armorm", "mvp"])
def test_quick_runs(paper_id, tmp_path):
    require_text_data("emoji" if paper_id == "img-text-match" else "wordnet")
    result = run(paper_id, get_budget("quick"), runs_dir=tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS and result.reason
    assert result.table and all(row["n"] == 1 for row in result.table)
