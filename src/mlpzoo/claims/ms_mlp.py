"""MS-MLP (2022): beats MLP-Mixer at equal parameters.

Paper: Zheng et al., "Mixing and Shifting: Exploiting Global and Local Dependencies in Vision
MLPs", 2022, arXiv:2202.06510. Experiment (:mod:`mlpzoo.claims.vision_mixers`): MS-MLP
(mix-shift blocks, 5 channel groups with shifts -2..2 and kernels 5, 3, 1, 3, 5) against Mixer at
matched parameters on CIFAR-10.
"""

from __future__ import annotations

import time
from pathlib import Path

from mlpzoo.claims import vision_mixers as vm
from mlpzoo.claims.base import Budget, ClaimResult, now_iso
from mlpzoo.claims.strip_mlp import beats_mixer

PAPER_ID = "ms-mlp"
TITLE = "Mixing and Shifting: Exploiting Global and Local Dependencies in Vision MLPs (2022, arXiv:2202.06510)"
CLAIM = "MS-MLP beats MLP-Mixer at equal parameters."
PAPER_NUMBERS = {"ImageNet-1k top-1": "MS-MLP-T 82.1 % (28 M parameters) vs Mixer-B/16 76.4 % (59 M)"}
MODEL = "ms_mlp"


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``runs_dir`` is unused: the fits are throw-away (no checkpoints)."""
    started, clock = now_iso(), time.perf_counter()
    runs, table, settings = vm.run_against_mixer(MODEL, budget, data_dir, log)
    return vm.claim_result(PAPER_ID, TITLE, CLAIM, PAPER_NUMBERS, budget, runs, table, verdict, settings, started, clock,
                           ["MS-MLP's parameter count includes the masked (always zero) depthwise taps."])


def verdict(table: list[dict]) -> tuple[str, str]:
    """As Strip-MLP's: better by more than one SE -> reproduced, a tie -> partly, worse -> not reproduced;
    parameter counts more than 5 % apart -> not checkable here (not an equal-parameter comparison)."""
    return beats_mixer(table, MODEL)
