"""ZAYA1 (2025): do hardware-chosen MLP widths train faster per parameter than naive widths on this device?

Paper: Zyphra, "Training Foundation Models on a Full-Stack AMD Platform: Compute, Networking, and
System Design", 2025 (catalog id ``zaya1``; arXiv id not recorded). The paper derives
"MI300X-aware transformer sizing rules for attention and MLP blocks" from kernel microbenchmarks
and "justif[ies] MoE widths that jointly optimize training throughput". We have no MI300X; the
rule is checked on the current device (a CPU here, whose BLAS may not care about alignment).

Part 1, sizing: :mod:`mlpzoo.methods.sizing` times one training step (forward + backward) of the
MLP block ``dim -> w -> dim``. For each naive width (1000; full budget also 3000) a GEMM sweep over
:func:`~mlpzoo.methods.sizing.candidate_widths` (the naive width and the multiples of 64/128/256
within 10 % of it) picks the width with the best achieved throughput
(:func:`~mlpzoo.methods.sizing.recommend`). That choice is then timed afresh against the naive
width, alternating the two in ``rounds`` to spread machine-load noise over both (fresh timings, so
the pick's own lucky draw does not count); the measure is achieved GEMM GFLOP/s, i.e. parameters
trained per second per token.

Part 2, mixture of experts (context, not in the verdict): a residual MLP classifier whose MLP is
either an :class:`~mlpzoo.layers.moe.MoEMLP` (8 experts of width 128, top-2, capacity factor
1.25, load-balancing weight 0.01) or a dense block of width 256 (equal active parameters up to the
router), trained with the Trainer on Fashion-MNIST (scikit-learn digits when it is not installed);
test accuracy and training samples/s.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import nn

from mlpzoo.claims.base import (
    Budget,
    ClaimResult,
    now_iso,
    standard_error_of_difference,
    summarize,
)
from mlpzoo.data.images import fashion_mnist_dir, load_digits_images, load_fashion_mnist
from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import DataMissingError
from mlpzoo.layers.moe import DenseMLPBlock, MoEMLP
from mlpzoo.methods.sizing import candidate_widths, recommend, sweep, time_mlp_block
from mlpzoo.models.kan import count_parameters
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

PAPER_ID = "zaya1"
TITLE = "Training Foundation Models on a Full-Stack AMD Platform (ZAYA1, 2025)"
CLAIM = "MLP widths chosen by a GEMM sweep (aligned shapes) train faster per parameter than naive widths on the current device."
PAPER_NUMBERS = {"MI300X (paper)": "sizing rules from kernel microbenchmarks; not reported for CPUs"}
MIN_SPEEDUP = 1.02  # below 2 % per parameter we call it no difference
SETTINGS = {
    "quick": {"naive_widths": (1000,), "dim": 256, "tokens": 512, "repeats": 5, "rounds": 2,
              "moe_train_rows": 4000, "moe_test_rows": 2000, "moe_epochs": 2},
    "full": {"naive_widths": (1000, 3000), "dim": 512, "tokens": 1024, "repeats": 7, "rounds": 5,
             "moe_train_rows": 60000, "moe_test_rows": 10000, "moe_epochs": 15},
}
SWEEP_TOLERANCE = 0.1  # candidates within 10 % of the naive width (the parameter budget may move that much)
MOE = {"dim": 128, "experts": 8, "top_k": 2, "expert_hidden": 128, "capacity_factor": 1.25, "aux_weight": 0.01}


class ResidualMLPClassifier(nn.Module):
    """``x -> Linear(in, dim) -> x + block(LayerNorm(x)) -> LayerNorm -> Linear(dim, classes)``."""

    def __init__(self, in_features: int, classes: int, dim: int, block: nn.Module, aux_weight: float = 0.0):
        super().__init__()
        self.embed, self.norm, self.block = nn.Linear(in_features, dim), nn.LayerNorm(dim), block
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))
        self.aux_weight = aux_weight

    def forward(self, batch) -> torch.Tensor:
        x = self.embed(batch["x"].flatten(1))
        return self.head(x + self.block(self.norm(x)))

    def regularization_loss(self, batch=None) -> torch.Tensor:
        """The MoE load-balancing loss of the last forward (weighted); zero for a dense block."""
        aux = getattr(self.block, "aux_loss", None)
        return self.aux_weight * aux if aux is not None and self.aux_weight else torch.zeros(())


def choose_widths(settings: dict, log=print) -> tuple[list[tuple[int, int]], list[dict]]:
    """The GEMM sweep: for each naive width, the candidate with the best achieved GFLOP/s.

    Returns the (naive, chosen) pairs and the sweep's rows (one per candidate width)."""
    pairs, records = [], []
    for naive in settings["naive_widths"]:
        timings = sweep(candidate_widths(naive, SWEEP_TOLERANCE), settings["dim"], settings["tokens"], settings["repeats"])
        chosen = recommend(timings, [naive], SWEEP_TOLERANCE)[0]["recommended"]
        pairs.append((naive, chosen))
        for t in timings:
            records.append({"part": "sweep", "pair": str(naive), "model": f"width_{t.width}", "width": t.width, "seed": 0,
                            "gflops": t.gflops, "step_ms": t.step_ms, "test_accuracy": math.nan,
                            "train_samples_per_second": math.nan, "parameters": float(t.parameters)})
        log(f"sweep around {naive}: " + ", ".join(f"{t.width} {t.gflops:.1f}" for t in timings) + f" GFLOP/s; chosen {chosen}")
    return pairs, records


def run_sizing(pairs: list[tuple[int, int]], settings: dict, log=print) -> list[dict]:
    """Fresh alternating timings of each naive width and the sweep's choice."""
    records = []
    for round_ in range(settings["rounds"]):
        for naive, aligned in pairs:
            for kind, width in (("naive", naive), ("aligned", aligned)):
                timing = time_mlp_block(width, settings["dim"], settings["tokens"], settings["repeats"])
                records.append({"part": "sizing", "pair": f"{naive}/{aligned}", "model": kind, "width": width, "seed": round_,
                                "gflops": timing.gflops, "step_ms": timing.step_ms, "test_accuracy": math.nan,
                                "train_samples_per_second": math.nan, "parameters": float(timing.parameters)})
                log(f"round {round_} width {width}: {timing.step_ms:.1f} ms/step, {timing.gflops:.1f} GFLOP/s")
    return records


def _image_data(settings: dict, data_dir=None):
    """Fashion-MNIST (first rows of each split; folder from :func:`fashion_mnist_dir`), else scikit-learn
    digits; pixels scaled to [0, 1]."""
    try:
        folder = fashion_mnist_dir(data_dir)
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist("train", folder), load_fashion_mnist("test", folder)
        name = "Fashion-MNIST"
        x_train, y_train = x_train[: settings["moe_train_rows"]], y_train[: settings["moe_train_rows"]]
        x_test, y_test = x_test[: settings["moe_test_rows"]], y_test[: settings["moe_test_rows"]]
    except DataMissingError:
        x, y = load_digits_images()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        x, y, cut = x[order], y[order], int(0.8 * len(x))
        (x_train, y_train), (x_test, y_test), name = (x[:cut], y[:cut]), (x[cut:], y[cut:]), "digits"
    n_valid = len(x_train) // 10
    scale = lambda images: images.float().div(255.0)
    return (name, ArrayData(scale(x_train[n_valid:]), y_train[n_valid:]), ArrayData(scale(x_train[:n_valid]), y_train[:n_valid]),
            ArrayData(scale(x_test), y_test))


def run_moe(seed: int, settings: dict, data_dir=None, log=print) -> list[dict]:
    name, train, valid, test = _image_data(settings, data_dir)
    in_features = train.x[0].numel()
    m = MOE
    blocks = {
        "moe_mlp": lambda: MoEMLP(m["dim"], m["expert_hidden"], m["experts"], m["top_k"], m["capacity_factor"]),
        "dense_mlp": lambda: DenseMLPBlock(m["dim"], m["top_k"] * m["expert_hidden"]),
    }
    records = []
    for kind, build in blocks.items():
        torch.manual_seed(seed)
        model = ResidualMLPClassifier(in_features, 10, m["dim"], build(), m["aux_weight"])
        cfg = {"epochs": settings["moe_epochs"], "patience": settings["moe_epochs"], "batch_size": 128, "lr": 1e-3,
               "lr_decay_factor": 1.0, "seed": seed, "monitor": "accuracy", "progress": False, "save_checkpoints": False}
        trainer = Trainer(get_task("classification"), model, cfg)
        fit = trainer.fit(train, valid)
        accuracy = trainer.evaluate(test)["accuracy"]
        active = model.block.active_parameters() if kind == "moe_mlp" else count_parameters(model.block)
        records.append({"part": f"moe_{name}", "pair": "-", "model": kind, "width": float("nan"), "seed": seed, "gflops": math.nan,
                        "step_ms": math.nan, "test_accuracy": accuracy, "train_samples_per_second": fit.train_samples_per_second,
                        "parameters": float(active)})
        log(f"{name} seed {seed} {kind}: test accuracy {accuracy:.4f}, {fit.train_samples_per_second:,.0f} samples/s, "
            f"{active} active MLP parameters")
    return records


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``runs_dir`` is unused (timings and throw-away fits)."""
    started, clock = now_iso(), time.perf_counter()
    settings = SETTINGS.get(budget.name, SETTINGS["full"])
    seeds = list(range(budget.seeds))
    pairs, runs = choose_widths(settings, log)
    runs += run_sizing(pairs, settings, log)
    for seed in seeds:
        runs += run_moe(seed, settings, data_dir, log)
    table = summarize(runs, ("part", "pair", "model"), ("gflops", "step_ms", "test_accuracy"))
    verdict_, reason = verdict(table)
    notes = [
        f"Device: {torch.get_num_threads()} CPU thread(s), torch {torch.__version__}; block dim {settings['dim']}, "
        f"{settings['tokens']} tokens, median of {settings['repeats']} steps, {settings['rounds']} alternating rounds "
        "(n counts rounds; the spread is over rounds).",
        f"Sweep: candidate widths within {SWEEP_TOLERANCE:.0%} of each naive width (multiples of 64, 128, 256 and the naive "
        "width itself), one timing each; chosen: " + ", ".join(f"{a} for {n}" for n, a in pairs) + ". The 'aligned' rows "
        "are fresh timings of the chosen width.",
        f"MoE: {MOE}; dense block width {MOE['top_k'] * MOE['expert_hidden']}; 'parameters' are active MLP parameters "
        "(router included for the MoE). Reported for context, not in the verdict.",
        "The paper's sizing targets MI300X GPUs; on a CPU the BLAS may tile any width equally well, so 'not reproduced' here "
        "says nothing about GPUs.",
    ]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, seeds, runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """For each naive/aligned pair: the aligned (sweep-chosen) width's achieved GFLOP/s is at least
    ``MIN_SPEEDUP`` times the naive one's and beyond one standard error over rounds; a sweep that keeps
    the naive width is no gain. All pairs -> reproduced; some -> partly; none -> not reproduced; no
    pairs -> not checkable here. MoE rows are quoted, not judged."""
    sizing = {(r["pair"], r["model"]): r for r in table if r["part"] == "sizing"}
    pairs = sorted({pair for pair, _ in sizing})
    findings, wins = [], 0
    for pair in pairs:
        naive, aligned = sizing[(pair, "naive")], sizing[(pair, "aligned")]
        ratio = aligned["gflops_mean"] / naive["gflops_mean"]
        se = standard_error_of_difference(aligned, naive, "gflops")
        kept = len(set(pair.split("/"))) == 1  # "1000/1000": no candidate beat the naive width
        ok = not kept and ratio >= MIN_SPEEDUP and aligned["gflops_mean"] - naive["gflops_mean"] > se
        wins += ok
        gain = ", the sweep kept the naive width" if kept else "" if ok else ", no real gain"
        findings.append(f"{pair}: {aligned['gflops_mean']:.1f} vs {naive['gflops_mean']:.1f} GFLOP/s ({ratio:.3f}x per parameter{gain})")
    moe = {r["model"]: r for r in table if r["part"].startswith("moe_")}
    if {"moe_mlp", "dense_mlp"} <= set(moe):
        findings.append(f"MoE vs dense of equal active parameters: accuracy {moe['moe_mlp']['test_accuracy_mean']:.4f} vs "
                        f"{moe['dense_mlp']['test_accuracy_mean']:.4f}, {moe['moe_mlp']['train_samples_per_second']:,.0f} vs "
                        f"{moe['dense_mlp']['train_samples_per_second']:,.0f} samples/s")
    if not pairs:
        return "not checkable here", "no sizing rows"
    outcome = "reproduced" if wins == len(pairs) else "partly reproduced" if wins else "not reproduced"
    return outcome, "; ".join(findings) + "."
