"""MS-MLP (2022): beats MLP-Mixer at equal parameters.

Paper: Zheng et al., "Mixing and Shifting: Exploiting Global and Local Dependencies in Vision
MLPs", 2022, arXiv:2202.06510. Experiment (:mod:`mlpzoo.claims.kits.vision`): MS-MLP (mix-shift
blocks, 5 channel groups with shifts -2..2 and kernels 5, 3, 1, 3, 5) against Mixer at matched
parameters on CIFAR-10, test accuracy of the best-validation weights over seeds. MS-MLP's
parameter count includes the masked (always zero) depthwise taps.
"""

from __future__ import annotations

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence
from mlpzoo.claims.kits import vision

MODEL = "ms_mlp"

SPEC = ClaimSpec(
    claim="MS-MLP beats MLP-Mixer at equal parameters.",
    paper_numbers={"ImageNet-1k top-1 (abstract)": "83.8 % with 85 M parameters"},
    datasets=("cifar10",),
    settings=vision.MIXER_SETTINGS,
    seeds=vision.MIXER_SEEDS,
    notes=(vision.FULL_NOTE, "MS-MLP's parameter count includes the masked (always zero) depthwise taps."),
)


def experiment(ctx: ClaimContext) -> Evidence:
    return vision.run_against_mixer(ctx, MODEL)


def verdict(table: list[dict]) -> tuple[str, str]:
    """As Strip-MLP's: better by more than one SE -> reproduced, a tie -> partly, worse -> not reproduced;
    parameter counts further apart than the table's tolerance -> not checkable here."""
    return vision.beats_mixer(table, MODEL)
