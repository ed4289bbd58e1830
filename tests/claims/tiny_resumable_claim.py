"""A claim in miniature for the kill-and-resume test, and its runner.

    python tiny_resumable_claim.py RUNS_DIR OUT.json

Claim: a wider two-layer network separates generated two-moons-like data better than a narrower one.
Three widths x three seeds, each arm a short full-batch fit of a few hundred steps: the same shape as a
real claim (``ClaimSpec``, ``experiment`` storing every arm through ``ctx.arm``, a pure ``verdict``),
small enough to run in seconds, large enough to be killed in the middle.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, get_budget, run_claim, summarize

WIDTHS = (2, 8, 32)
SPEC = ClaimSpec(
    claim="A wider hidden layer fits better.",
    settings={"quick": {"steps": 20}, "full": {"steps": 400}},
    seeds={"quick": 1, "full": 3},
)


def fit(width: int, seed: int, steps: int) -> dict:
    """Train on 512 generated points (the data depend on the seed only) and report training accuracy."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 2, generator=generator)
    y = ((x[:, 0] * x[:, 1] + 0.3 * torch.sin(3 * x[:, 0])) > 0).float()
    model = torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.Tanh(), torch.nn.Linear(width, 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), y)
        loss.backward()
        optimiser.step()
    accuracy = ((model(x).squeeze(1) > 0).float() == y).float().mean().item()
    return {"model": f"width{width}", "seed": seed, "acc": accuracy, "loss": loss.item()}


def experiment(ctx: ClaimContext) -> Evidence:
    ctx.expect(len(WIDTHS) * len(ctx.seeds))
    runs = [
        ctx.arm(f"width{w}/seed{s}", lambda w=w, s=s: fit(w, s, ctx.settings["steps"]), seed=s)
        for w in WIDTHS
        for s in ctx.seeds
    ]
    return Evidence(summarize(runs, ("model",), ("acc", "loss")), runs)


def verdict(table: list[dict]) -> tuple[str, str]:
    rows = {row["model"]: row for row in table}
    lead = compare(rows[f"width{WIDTHS[-1]}"], rows[f"width{WIDTHS[0]}"], "acc")
    return ("reproduced" if lead.wins else "not reproduced"), f"widest vs narrowest accuracy {lead}"


if __name__ == "__main__":
    torch.set_num_threads(1)
    runs_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    reused: list[str] = []
    result = run_claim(
        "hourglass",
        "a tiny resumable claim (test)",
        sys.modules[__name__],
        get_budget("full"),
        runs_dir=runs_dir,
        log=lambda line: reused.append(line) if "reused" in line else None,
    )
    out.write_text(
        json.dumps({"table": result.table, "runs": result.runs, "verdict": result.verdict, "reused": len(reused)})
    )
