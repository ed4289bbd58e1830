"""Claims: one module per paper that checks its headline claim and prints an honest verdict."""

from __future__ import annotations

import importlib

from mlpzoo.errors import ConfigError

# Paper id -> module implementing ``run(budget, data_dir, runs_dir, log)`` and ``verdict(table)``.
# One line per claim, so that adding one never touches another's line.
CLAIM_MODULES = {
    "finalmlp": "mlpzoo.claims.finalmlp",
    "din": "mlpzoo.claims.din",
    "s-kan": "mlpzoo.claims.s_kan",
    "kan-hea": "mlpzoo.claims.kan_hea",
    "gpd": "mlpzoo.claims.gpd",
    "flow-omni": "mlpzoo.claims.flow_omni",
    "diffusion-link": "mlpzoo.claims.diffusion_link",
    "ff-g2m": "mlpzoo.claims.ff_g2m",
    "mowst": "mlpzoo.claims.mowst",
    "elliptic-aml": "mlpzoo.claims.elliptic_aml",
    "cqmlp": "mlpzoo.claims.cqmlp",
    "raftmlp": "mlpzoo.claims.raftmlp",
    "strip-mlp": "mlpzoo.claims.strip_mlp",
    "ms-mlp": "mlpzoo.claims.ms_mlp",
    "dsm": "mlpzoo.claims.dsm",
    "kat": "mlpzoo.claims.kat",
    "af-kan": "mlpzoo.claims.af_kan",
    "flashkat": "mlpzoo.claims.flashkat",
    "scaling-mlps": "mlpzoo.claims.scaling_mlps",
    "hourglass": "mlpzoo.claims.hourglass",
    "min-transformer": "mlpzoo.claims.min_transformer",
    "grokking-tickets": "mlpzoo.claims.grokking_tickets",
    "hypernetworks": "mlpzoo.claims.hypernetworks",
    "zaya1": "mlpzoo.claims.zaya1",
    "mamba": "mlpzoo.claims.mamba",
    "atm-chaos": "mlpzoo.claims.atm_chaos",
}


def get_claim(paper_id: str):
    if paper_id not in CLAIM_MODULES:
        from mlpzoo.claims.catalog import get_paper

        get_paper(paper_id)  # an unknown id gets the catalog's "did you mean" error
        raise ConfigError(f"paper {paper_id!r} has no claim module yet; implemented: {', '.join(CLAIM_MODULES)}")
    return importlib.import_module(CLAIM_MODULES[paper_id])
