"""Mamba (Gu & Dao, 2023): selection solves content-aware tasks that time-invariant SSMs cannot.

Paper: "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", Albert Gu and Tri Dao,
2023, arXiv:2312.00752. Section 4.1.1, Table 1: on selective copying the Mamba architecture with
the selective SSM (S6) reaches 99.8 % where the same architecture with an LTI (S4) layer reaches
56.4 %. Section 4.1.2, Table 2: on induction heads Mamba, trained at length 256, stays exact up to
a million tokens, while no attention variant goes beyond twice the training length. The abstract:
"linear scaling in sequence length".

Experiment, read top to bottom (data generated on the fly, :mod:`mlpzoo.data.synthetic_sequences`):

1. Selective copying: ``mamba`` (S6), ``mamba_lti`` (the LTI ablation) and ``transformer_lm``
   (causal attention, sinusoidal positions), all 2 layers of width ``d_model`` as in the paper,
   trained on fresh batches every step; accuracy on the copied tokens of a held-out batch.
2. Induction heads: the same three models trained at one length, tested at that length and at
   longer ones (length extrapolation); accuracy at the last position. The Transformer must solve
   the training length: an attention baseline that fails in-distribution is undertrained, and
   Mamba's extrapolation is then not counted as beating it.
3. Cost in length: forward time per token of ``mamba`` and ``transformer_lm`` (batch 1, no
   grad, median of repeats) at growing lengths; the exponent of time ~ length^k is fitted in
   log-log over the longer half of the lengths (k = 1 linear, k = 2 quadratic), where per-call
   overhead no longer hides the growth.

Optimisation (AdamW, linear warm-up then constant learning rate, gradient clipping at 1, no weight
decay, the same steps and batches for every model) is ours; the recipe was chosen on held-out
batches, never on the test batches (see ``SPEC.notes``).
"""

from __future__ import annotations

import math
import statistics
import time
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from mlpzoo.claims.base import (
    ClaimContext,
    ClaimSpec,
    Evidence,
    compare,
    outcome,
    summarize,
)
from mlpzoo.data.synthetic_sequences import IGNORE, induction_heads, selective_copying
from mlpzoo.measure import count_parameters
from mlpzoo.registry import create_model

MODELS = ("mamba", "mamba_lti", "transformer_lm")  # selective copying
INDUCTION = ("mamba", "transformer_lm")  # the LTI ablation is not part of the induction-heads claim
TIMED = ("mamba", "transformer_lm")
VOCAB = 16
SOLVED = 0.9  # accuracy at which a task counts as solved
LINEAR_EXPONENT = 1.2  # time ~ length^k with k at most this counts as linear
PAPER_COPY = {
    "mamba": 0.998,
    "mamba_lti": 0.564,
}  # Table 1, Mamba architecture, sequence 4096, 16 tokens, vocabulary 16
PAPER_COPY_SETTING = (4096, 16)

SPEC = ClaimSpec(
    claim=(
        "The selective SSM (S6) solves selective copying where the LTI ablation does not, its induction heads "
        "extrapolate beyond the training length where attention does not, and its cost grows linearly with length."
    ),
    paper_numbers={
        "selective copying, Mamba architecture (Table 1)": "S6 99.8 %, LTI (S4) 56.4 % (S4 without gating 18.3 %)",
        "induction heads (section 4.1.2, Table 2)": "Mamba trained at 256 tokens is exact up to 2^20 tokens; "
        "no attention variant goes beyond 2x the training length",
    },
    seeds={"quick": 1, "full": 3, "gpu": 3},
    # Quick: every task, model and timing path, a few steps at short lengths (a smoke test, near chance).
    settings={
        "quick": {
            "copy_len": 24,
            "copy_tokens": 4,
            "induction_len": 24,
            "induction_test": (48, 96),
            "steps": 30,
            "batch": 16,
            "chunk": 16,
            "lr": 1e-3,
            "warmup": 10,
            "d_model": 32,
            "d_state": 8,
            "n_head": 4,
            "eval_batch": 128,
            "timing_lengths": (128, 512, 2048),
            "timing_repeats": 3,
        },
        "full": {
            "copy_len": 64,
            "copy_tokens": 8,
            "induction_len": 64,
            "induction_test": (128, 256, 512, 1024),
            "steps": 2500,
            "batch": 16,
            "chunk": 16,
            "lr": 1e-3,
            "warmup": 200,
            "d_model": 64,
            "d_state": 16,
            "n_head": 4,
            "eval_batch": 512,
            "timing_lengths": (256, 512, 1024, 2048, 4096, 8192),
            "timing_repeats": 5,
        },
        # The paper's lengths (Table 1: 4096 + 16 tokens; Table 2: trained at 256); needs an accelerator.
        "gpu": {
            "copy_len": 4096,
            "copy_tokens": 16,
            "induction_len": 256,
            "induction_test": (512, 1024, 4096, 16384),
            "steps": 20000,
            "batch": 64,
            "chunk": 64,
            "lr": 1e-3,
            "warmup": 500,
            "d_model": 64,
            "d_state": 16,
            "n_head": 4,
            "eval_batch": 512,
            "timing_lengths": (1024, 2048, 4096, 8192, 16384),
            "timing_repeats": 5,
        },
    },
    notes=(
        (
            "Vocabulary 16 as in the paper. Quick and full budgets are far below the paper's lengths (selective "
            "copying "
            "4096 + 16 tokens, induction heads trained at 256) and steps, so no calibration row against Table 1 "
            "applies; "
            "the gpu budget runs the paper's lengths and then compares S6 and LTI copying with Table 1 (its step count "
            "is ours, and it has not been run: no accelerator was available when it was written)."
        ),
        (
            "Optimiser (ours; the paper's task recipe is in an appendix not available here): AdamW, lr 1e-3 after 200 "
            "linear warm-up steps, then constant, clipping at 1, the same steps and batch for every model. Tried on "
            "held-out batches (seeds never used for training or test), one thread: the Transformer with embeddings "
            "N(0, 0.02) stayed at chance on induction heads at its training length 64 (0.06-0.08 after 2,000 steps, lr "
            "2e-3, or 1e-3 with warm-up); with N(0, 1/d_model) it reached 0.975 after 1,500 and 1.000 after 2,000 "
            "steps "
            "(batch 16). S6 on selective copying 64 + 8, same recipe: 0.10 / 0.26 / 0.45 / 0.60 / 0.68 after 400 / "
            "800 / "
            "1,200 / 1,600 / 2,000 steps, still rising (lr 3e-3: 0.12 / 0.28 after 400 / 800, no faster); 2,500 "
            "steps may "
            "leave it short of 0.9, which the verdict then reports as not solved at this budget."
        ),
        (
            f"Verdict thresholds: solved = accuracy >= {SOLVED}; linear = exponent <= {LINEAR_EXPONENT} fitted over "
            "the "
            "longer half of the timing lengths. The cost check can only complete a verdict the selection checks earned."
        ),
        (
            "Full budget estimate on the 2-core machine (one thread): about 55 min (9 Mamba fits of 2,500 steps at "
            "~0.13 s a step at lengths 64-72, 6 Transformer fits at ~0.03 s, timing); not run here."
        ),
    ),
)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build(name: str, settings: dict) -> torch.nn.Module:
    kwargs = {"vocab_size": VOCAB, "d_model": settings["d_model"], "n_layer": 2}
    if name == "transformer_lm":
        kwargs["n_head"] = settings["n_head"]
    else:  # the scan's chunk length changes its speed, not its arithmetic
        kwargs.update(d_state=settings["d_state"], chunk_size=settings["chunk"])
    return create_model(name, **kwargs).to(device())


def train(model: torch.nn.Module, make_batch, settings: dict) -> float:
    """Fit on a fresh batch every step (``make_batch(step)``); linear warm-up, then a constant rate."""
    lr, warmup = settings["lr"], max(settings["warmup"], 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    loss = torch.tensor(math.nan)
    for step in range(settings["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)
        batch = make_batch(step)
        tokens, targets = batch.tokens.to(device()), batch.targets.to(device())
        loss = F.cross_entropy(model(tokens).flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def accuracy(model: torch.nn.Module, batch, chunk: int = 64) -> float:
    """Share of scored positions whose arg-max prediction is the target (evaluated ``chunk`` rows at a time)."""
    model.eval()
    hits = total = 0
    for start in range(0, len(batch.tokens), chunk):
        tokens, targets = (
            batch.tokens[start : start + chunk].to(device()),
            batch.targets[start : start + chunk].to(device()),
        )
        scored = targets != IGNORE
        hits += int((model(tokens).argmax(-1)[scored] == targets[scored]).sum())
        total += int(scored.sum())
    return hits / max(total, 1)


@torch.no_grad()
def time_per_token(model: torch.nn.Module, length: int, repeats: int) -> float:
    """Median forward seconds per token at batch 1 (one warm-up run)."""
    model.eval()
    tokens = torch.randint(0, VOCAB, (1, length), generator=torch.Generator().manual_seed(length)).to(device())
    model(tokens)
    times = []
    for _ in range(repeats):
        if device().type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(tokens)
        if device().type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / length


def length_exponent(lengths, seconds_per_token, longest: int | None = None) -> float:
    """Slope k of log(total time) against log(length): time ~ length^k, fitted on the ``longest``
    lengths only (all by default)."""
    order = np.argsort(lengths)[-(longest or len(lengths)) :]
    lengths, total = np.asarray(lengths)[order], (np.asarray(seconds_per_token) * np.asarray(lengths))[order]
    return float(np.polyfit(np.log(lengths), np.log(total), 1)[0])


def _batch_seed(seed: int, task: int, step: int) -> int:
    """Training batches: a separate stream per (seed, task); test batches use seeds from 10**6 up."""
    return (seed * 2 + task) * 100_003 + step


def _record(task: str, model: str, length: int, seed: int, acc: float, parameters: int, scored: int) -> dict:
    return {
        "task": task,
        "model": model,
        "length": length,
        "seed": seed,
        "accuracy": acc,
        "scored": scored,
        "parameters": parameters,
    }


def selective_copying_run(name: str, s: dict, seed: int) -> list[dict]:
    """Train ``name`` on selective copying and score the copied tokens of a held-out batch."""
    model = build(name, s)
    train(
        model,
        lambda step: selective_copying(
            s["batch"], s["copy_len"], s["copy_tokens"], VOCAB, seed=_batch_seed(seed, 0, step)
        ),
        s,
    )
    test = selective_copying(s["eval_batch"], s["copy_len"], s["copy_tokens"], VOCAB, seed=10**6 + seed)
    return [
        _record(
            "selective_copying",
            name,
            s["copy_len"] + s["copy_tokens"],
            seed,
            accuracy(model, test),
            count_parameters(model),
            s["eval_batch"] * s["copy_tokens"],
        )
    ]


def induction_heads_run(name: str, s: dict, seed: int) -> list[dict]:
    """Train ``name`` on induction heads at ``induction_len``; score held-out batches at every test length."""
    model = build(name, s)
    train(
        model, lambda step: induction_heads(s["batch"], s["induction_len"], VOCAB, seed=_batch_seed(seed, 1, step)), s
    )
    parameters = count_parameters(model)
    return [
        _record(
            "induction_heads",
            name,
            length,
            seed,
            accuracy(model, induction_heads(s["eval_batch"], length, VOCAB, seed=10**6 + seed)),
            parameters,
            s["eval_batch"],
        )
        for length in (s["induction_len"], *s["induction_test"])
    ]


def timing_run(name: str, s: dict) -> list[dict]:
    """Forward time per token of a freshly built ``name`` at every timing length."""
    model = build(name, s)
    return [
        {
            "task": "time_per_token",
            "model": name,
            "length": length,
            "us_per_token": time_per_token(model, length, s["timing_repeats"]) * 1e6,
            "parameters": count_parameters(model),
        }
        for length in s["timing_lengths"]
    ]


def experiment(ctx: ClaimContext) -> Evidence:
    s = ctx.settings
    units = [("selective_copying", name, selective_copying_run) for name in MODELS]
    units += [("induction_heads", name, induction_heads_run) for name in INDUCTION]
    ctx.expect(len(units) * len(ctx.seeds) + len(TIMED))
    runs: list[dict] = []
    for seed in ctx.seeds:
        for task, name, fit in units:
            records = ctx.arm(f"{task}/{name}/seed{seed}", partial(fit, name, s, seed), seed=seed)
            ctx.log(
                f"{task} seed {seed} {name}: " + ", ".join(f"{r['accuracy']:.3f} at {r['length']}" for r in records)
            )
            runs += records
    table = summarize(runs, ("task", "model", "length"), ("accuracy",))
    for row in table:
        members = [r for r in runs if all(r[k] == row[k] for k in ("task", "model", "length"))]
        row.update(
            scored=sum(r["scored"] for r in members),
            train_length=_train_length(row["task"], s),
            solved_at=SOLVED,
            copy_setting=f"{s['copy_len']}+{s['copy_tokens']}",
        )
    for name in TIMED:
        timing = ctx.arm(f"time_per_token/{name}", partial(timing_run, name, s))
        ctx.log(f"time per token {name}: " + ", ".join(f"{r['us_per_token']:.1f} us at {r['length']}" for r in timing))
        table += [{**r, "n": 1, "linear_at_most": LINEAR_EXPONENT} for r in timing]
    notes = [
        (
            f"Selective copying: {s['copy_tokens']} tokens among {s['copy_len']} noise tokens; induction heads trained "
            f"at {s['induction_len']} tokens, tested up to {max(s['induction_test'])}; 2 layers, d_model "
            f"{s['d_model']}, "
            f"SSM state {s['d_state']}, {s['n_head']} attention heads; {s['steps']} AdamW steps of batch {s['batch']}, "
            f"lr {s['lr']} after {s['warmup']} warm-up steps; test batch {s['eval_batch']}; device {device().type}, "
            f"{torch.get_num_threads()} thread(s)."
        )
    ]
    return Evidence(table, runs, notes)


def _train_length(task: str, s: dict) -> int:
    return s["copy_len"] + s["copy_tokens"] if task == "selective_copying" else s["induction_len"]


def _sampling_error(a: dict, b: dict) -> float:
    """Binomial standard error of a difference of two accuracies over their ``scored`` positions
    (the spread that remains with a single seed, or when every seed scores the same)."""
    pa, pb = a["accuracy_mean"], b["accuracy_mean"]
    return math.sqrt(pa * (1 - pa) / max(a["scored"], 1) + pb * (1 - pb) / max(b["scored"], 1))


def _accuracy_comparison(a: dict, b: dict):
    return compare(a, b, "accuracy", min_se=_sampling_error(a, b))


def verdict(table: list[dict]) -> tuple[str, str]:
    """Selection checks first: (1) on selective copying S6 beats the LTI ablation beyond one standard
    error (over seeds, floored by the binomial error of the accuracies) while the ablation does not
    solve it; (2) S6 solves copying; (3) S6 solves induction heads at the training length and at the
    longest test length; (4) there S6 beats the Transformer beyond one standard error, counted only
    when the Transformer solved the training length (an attention baseline that fails in-distribution
    is undertrained, not beaten). None of them -> not reproduced, whatever the cost. Otherwise the
    cost check (Mamba's time exponent at most ``linear_at_most``) joins them: all -> reproduced, else
    partly."""
    copy = {r["model"]: r for r in table if r["task"] == "selective_copying"}
    induction = {(r["model"], r["length"]): r for r in table if r["task"] == "induction_heads"}
    timing: dict[str, list[tuple[int, float]]] = {}
    for r in table:
        if r["task"] == "time_per_token":
            timing.setdefault(r["model"], []).append((r["length"], r["us_per_token"]))
    s6, lti, attention = copy["mamba"], copy["mamba_lti"], copy["transformer_lm"]
    solved_at = s6["solved_at"]
    lead = _accuracy_comparison(s6, lti)
    lti_solves = lti["accuracy_mean"] >= solved_at
    selective = lead.wins and not lti_solves
    solved = s6["accuracy_mean"] >= solved_at
    trained = next(r["train_length"] for r in induction.values())
    longest = max(length for _, length in induction)

    def at(model, length):
        return induction[(model, length)]["accuracy_mean"]

    extrapolates = at("mamba", trained) >= solved_at and at("mamba", longest) >= solved_at
    baseline_valid = at("transformer_lm", trained) >= solved_at
    over_attention = _accuracy_comparison(induction[("mamba", longest)], induction[("transformer_lm", longest)])
    beats_attention = baseline_valid and over_attention.wins
    points = {m: sorted(p) for m, p in timing.items()}
    exponents = {m: length_exponent(*zip(*p), longest=max(2, -(-len(p) // 2))) for m, p in points.items()}
    linear = exponents["mamba"] <= next(r["linear_at_most"] for r in table if r["task"] == "time_per_token")

    selection = [selective, solved, extrapolates, beats_attention]
    verdict_ = "not reproduced" if not any(selection) else outcome(selection + [linear])
    findings = [
        (
            f"selective copying ({s6['copy_setting']} tokens): S6 {s6['accuracy_mean']:.3f}, LTI "
            f"{lti['accuracy_mean']:.3f}, "
            f"Transformer {attention['accuracy_mean']:.3f}; S6 vs LTI {lead} "
            f"({'beyond' if lead.wins else 'not beyond'} 1 SE"
            f"{'; the LTI ablation solves it too' if lti_solves else ''}); S6 "
            f"{'solves' if solved else 'does not solve'} it "
            f"(>= {solved_at})"
        ),
        (
            f"induction heads trained at {trained}, tested to {longest}: "
            + ", ".join(
                f"{m} {at(m, trained):.3f} -> {at(m, longest):.3f}" for m in dict.fromkeys(k[0] for k in induction)
            )
            + f" (S6 {'extrapolates' if extrapolates else 'does not extrapolate'})"
        ),
        (
            f"S6 vs Transformer at {longest}: {over_attention}"
            if baseline_valid
            else f"the Transformer baseline failed in-distribution ({at('transformer_lm', trained):.3f} at its "
            "training length "
            f"{trained}, below {solved_at}): it is undertrained, so S6's extrapolation is not counted as beating "
            "attention"
        ),
        "time ~ length^k: "
        + ", ".join(f"{m} k={k:.2f}" for m, k in exponents.items())
        + f" ({'linear' if linear else 'not linear'} for Mamba"
        + ("; counted only with a selection check passed)" if not any(selection) else ")"),
    ]
    calibration = _calibration(copy)
    if calibration:
        findings.append(calibration)
    return verdict_, f"{sum(selection)} of 4 selection checks pass: " + "; ".join(findings) + "."


def _calibration(copy: dict) -> str:
    """At the paper's selective-copying setting, our S6 and LTI accuracies beside Table 1's; empty otherwise.
    Table 1 gives no spread, so S6 counts as below the paper when it falls short by more than two binomial
    standard errors of our estimate plus one percentage point."""
    if tuple(int(x) for x in copy["mamba"]["copy_setting"].split("+")) != PAPER_COPY_SETTING:
        return ""
    s6 = copy["mamba"]
    ours, paper = s6["accuracy_mean"], PAPER_COPY["mamba"]
    below = paper - ours > 0.01 + 2 * math.sqrt(ours * (1 - ours) / max(s6["scored"], 1))
    return (
        "calibration against Table 1 at the paper's setting: "
        + ", ".join(f"{m} {copy[m]['accuracy_mean']:.3f} vs paper {p:.3f}" for m, p in PAPER_COPY.items())
        + (" (implementation below the paper's reported number on matching data)" if below else "")
    )
