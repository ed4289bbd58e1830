"""Every implemented claim follows the declared protocol of mlpzoo.claims.base.

The list of claims comes from the catalog (a paper with a module ``mlpzoo.claims.<id>``), so a new
claim is checked here the moment its file exists.
"""

import inspect

import pytest

from mlpzoo.claims import get_claim, implemented_claims
from mlpzoo.claims.base import BUDGETS, ClaimSpec, code_hash
from mlpzoo.claims.catalog import load_catalog

CLAIMS = implemented_claims()


def test_claims_are_found_from_the_catalog():
    catalog = {entry.id for entry in load_catalog()}
    assert CLAIMS and set(CLAIMS) <= catalog


@pytest.mark.parametrize("paper_id", CLAIMS)
def test_claim_declares_spec_experiment_and_a_pure_verdict(paper_id):
    module = get_claim(paper_id)
    assert isinstance(module.SPEC, ClaimSpec), f"{paper_id}: SPEC must be a ClaimSpec"
    assert list(inspect.signature(module.experiment).parameters) == ["ctx"]
    assert list(inspect.signature(module.verdict).parameters) == ["table"]
    for legacy in ("run", "PAPER_ID", "TITLE", "CLAIM", "PAPER_NUMBERS"):
        assert not hasattr(module, legacy), f"{paper_id}: {legacy} is declared by SPEC and the catalog now"
    assert code_hash(module)


@pytest.mark.parametrize("paper_id", CLAIMS)
def test_full_budget_is_a_real_check(paper_id):
    spec = get_claim(paper_id).SPEC
    assert len(spec.seed_list(BUDGETS["full"])) >= 3 or spec.replicated_by, (
        f"{paper_id}: the full budget needs >= 3 seeds or folds (or SPEC.replicated_by naming its replicates)"
    )
    assert len(spec.seed_list(BUDGETS["quick"])) >= 1
    for name, numbers in spec.paper_numbers.items():
        assert any(word in name.lower() for word in ("table", "fig", "section", "abstract", "§")), (
            f"{paper_id}: paper number {name!r} must name the table/figure/section it comes from"
        )


def test_seeds_follow_the_spec_unless_given():
    from mlpzoo.claims.base import ClaimSpec, get_budget

    spec = ClaimSpec(claim="c", settings={"quick": {}, "full": {}}, seeds={"quick": 1, "full": 4}, first_seed=7)
    assert spec.seed_list(get_budget("quick")) == [7]
    assert spec.seed_list(get_budget("full")) == [7, 8, 9, 10]
    assert spec.seed_list(get_budget("full", seeds=2)) == [7, 8]


def test_code_hash_covers_the_kits_a_claim_imports(tmp_path, monkeypatch):
    from mlpzoo.claims import base

    kits = tmp_path / "kits"
    kits.mkdir()
    (kits / "shared.py").write_text("X = 1\n")
    claim = tmp_path / "claim.py"
    claim.write_text("from mlpzoo.claims.kits.shared import X\n")
    monkeypatch.setattr(base, "__file__", str(tmp_path / "base.py"))
    before = base.source_hash(claim)
    (kits / "shared.py").write_text("X = 2\n")
    assert base.source_hash(claim) != before
