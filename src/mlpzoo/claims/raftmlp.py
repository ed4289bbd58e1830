"""RaftMLP (2021): fewer parameters and FLOPs than MLP-Mixer at equal or better accuracy.

Paper: Tatsunami and Taki, "RaftMLP: How Much Can Be Done Without Attention and with Less
Spatial Locality?", 2021, arXiv:2108.04384. The abstract: "we were able to improve the accuracy
of the MLP-Mixer while reducing its parameters and computational complexity". Experiment
(:mod:`mlpzoo.claims.vision_mixers`): RaftMLP (raft token mixing r=2, multi-scale patch
embedding) against Mixer of the same width and depth on CIFAR-10.
"""

from __future__ import annotations

import time
from pathlib import Path

from mlpzoo.claims import vision_mixers as vm
from mlpzoo.claims.base import Budget, ClaimResult, now_iso

PAPER_ID = "raftmlp"
TITLE = "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality? (2021, arXiv:2108.04384)"
CLAIM = "RaftMLP has fewer parameters and FLOPs than MLP-Mixer at equal or better accuracy."
PAPER_NUMBERS = {"ImageNet-1k top-1": "RaftMLP-S 76.1 % (9.9 M parameters, 2.1 GFLOPs) vs Mixer-B/16 76.4 % (59 M, 12.6 GFLOPs)"}
MODEL = "raftmlp"


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``runs_dir`` is unused: the fits are throw-away (no checkpoints)."""
    started, clock = now_iso(), time.perf_counter()
    runs, table, settings = vm.run_against_mixer(MODEL, budget, data_dir, log)
    note = ("RaftMLP keeps Mixer's width and depth. The paper measured its saving from the raft token MLPs at 196 tokens "
            "(224 px, patch 16); at our 64 tokens the token MLPs are small and the multi-scale patch embedding "
            "outweighs their saving, so RaftMLP has only a few % fewer parameters than Mixer and slightly more FLOPs "
            "(at the full defaults 1.109 M vs 1.132 M parameters, 154.9 M vs 151.8 M FLOPs per image): the FLOPs "
            "half is expected to fail here.")
    return vm.claim_result(PAPER_ID, TITLE, CLAIM, PAPER_NUMBERS, budget, runs, table, verdict, settings, started, clock, [note])


def verdict(table: list[dict]) -> tuple[str, str]:
    """Accuracy >= Mixer's within one SE, and fewer parameters and FLOPs: all -> reproduced; accuracy
    with only one of the savings, or both savings with lower accuracy -> partly; else not reproduced."""
    mine, base, diff, se = vm.compare(table, MODEL)
    accurate = diff >= -se
    fewer_params = mine["parameters_mean"] < base["parameters_mean"]
    fewer_flops = mine["flops_per_image_mean"] < base["flops_per_image_mean"]
    checks = [accurate, fewer_params, fewer_flops]
    outcome = "reproduced" if all(checks) else "partly reproduced" if sum(checks) == 2 else "not reproduced"
    found = (f"accuracy {'>=' if accurate else '<'} Mixer, {'fewer' if fewer_params else 'not fewer'} parameters, "
             f"{'fewer' if fewer_flops else 'not fewer'} FLOPs")
    return outcome, f"{found}: {vm.describe(mine, base, diff, se)}."
