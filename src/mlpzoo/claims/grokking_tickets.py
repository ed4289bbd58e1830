"""Grokking Tickets (2023): do lottery tickets grok much faster than the dense net, even without weight decay?

Paper: Minegishi, Iwasawa & Matsuo, "Grokking Tickets: Lottery Tickets Accelerate Grokking",
2023, arXiv:2310.19470 (code: github.com/gouki510/Grokking-Tickets). The abstract: "the lottery
tickets drastically accelerate grokking compared to the dense networks"; "the subnetworks
generalize faster than the controlled dense model" of equal norm; "at an appropriate pruning rate,
grokking can be achieved even without weight decay"; no speed-up for tickets "identified at the
memorization solution" or for random pruning at initialisation.

Experiment (the paper's modular-addition MLP setting): ``(a + b) mod p`` over unordered pairs,
40 % of them for training (:func:`mlpzoo.data.synthetic_tasks.modular_addition`), full-batch
AdamW with betas (0.9, 0.98), the :class:`~mlpzoo.models.modular.GrokkingMLP` (p = 67,
d_emb = 500, d_model = 48, lr 1e-3, weight decay 1 in the full budget; the quick budget uses a
128-wide embedding and lr 1e-2 so that the dense net groks within seconds).

The held-out 60 % is split in two halves: validation pairs pick the dense net's generalised
checkpoint, test pairs measure every arm. (The paper reads both off its test curves; splitting
keeps the training set and the measurement on unseen pairs as in the paper, and stops the mask
from being chosen on the pairs that then time the tickets.)

1. Dense: train with weight decay until validation and test accuracy both reach ``TARGET``
   (95 %); the weights at the first evaluation with validation accuracy >= 95 % are the
   generalised checkpoint (the last weights if never), those at the first with 100 % training
   accuracy the memorisation checkpoint.
2. Ticket: a global magnitude mask of the generalised weights keeping ``keep_fraction`` of all
   weight entries (:mod:`mlpzoo.methods.pruning`), survivors rewound to their initial values,
   retrained with and without weight decay (pruned weights held at zero).
3. Controls at ``control_fraction``: a random mask of the same sparsity; the magnitude mask of
   the memorisation checkpoint; the dense initialisation rescaled to the ticket's L2 norm.

Measured: epochs until test accuracy >= 95 % (evaluated every ``eval_every`` epochs; a run that
never gets there is recorded at its epoch cap with ``grokked`` = 0). Curves of test accuracy go
to a PNG beside the claim's results.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from mlpzoo.claims.base import (
    Budget,
    ClaimResult,
    now_iso,
    standard_error_of_difference,
    summarize,
)
from mlpzoo.data.synthetic_tasks import ModularAddition, modular_addition
from mlpzoo.methods.pruning import (
    apply_masks,
    global_magnitude_masks,
    prunable,
    random_masks,
    rescale_to_norm,
    rewind,
    weight_norm,
)
from mlpzoo.models.modular import GrokkingMLP

PAPER_ID = "grokking-tickets"
TITLE = "Grokking Tickets: Lottery Tickets Accelerate Grokking (2023, arXiv:2310.19470)"
CLAIM = ("Magnitude-pruned subnetworks of a generalised net, rewound to initialisation ('grokking tickets'), "
         "reach full test accuracy much sooner than the dense net and than random, memorisation-time or "
         "equal-norm controls, and grok even without weight decay.")
PAPER_NUMBERS = {"MLP, modular addition p=67 (paper Fig. 1)": "ticket generalises several times sooner than the dense net; "
                 "random-pruned and memorisation-ticket nets do not speed up"}
TARGET = 0.95
SPEEDUP = 2.0  # "much faster": at least twice as fast
TRAIN_FRACTION = 0.4
BETAS = (0.9, 0.98)
SETTINGS = {
    "quick": {"p": 67, "d_emb": 128, "d_model": 48, "lr": 1e-2, "weight_decay": 1.0, "dense_epochs": 2000,
              "retrain_epochs": 300, "keep_fractions": (0.4,), "control_fraction": 0.4, "eval_every": 10},
    "full": {"p": 67, "d_emb": 500, "d_model": 48, "lr": 1e-3, "weight_decay": 1.0, "dense_epochs": 30000,
             "retrain_epochs": 20000, "keep_fractions": (0.6, 0.4, 0.2), "control_fraction": 0.4, "eval_every": 10},
}
CONTROLS = ("random_mask", "memorisation_mask", "dense_same_norm")


def _accuracy(model, data: ModularAddition, index: torch.Tensor) -> float:
    with torch.no_grad():
        logits = model({"a": data.a[index], "b": data.b[index]})
    return float((logits.argmax(1) == data.label[index]).float().mean())


def split_held_out(data: ModularAddition) -> tuple[ModularAddition, torch.Tensor]:
    """Halve the held-out pairs (already in random order): (data whose test_index is the second half, validation index)."""
    half = data.test_index.numel() // 2
    return replace(data, test_index=data.test_index[half:]), data.test_index[:half]


def train_full_batch(model: GrokkingMLP, data: ModularAddition, lr: float, weight_decay: float, max_epochs: int,
                     eval_every: int, masks=None, valid_index: torch.Tensor | None = None) -> dict:
    """Full-batch AdamW until test accuracy >= ``TARGET`` (and, given ``valid_index``, validation
    accuracy too) or ``max_epochs``.

    Returns the curve ``[(epoch, train_acc, test_acc)]``, ``epochs_to_95`` (first test accuracy >=
    ``TARGET``; ``max_epochs`` when not reached), ``grokked``, ``memorised_epoch`` and
    ``memorised_state`` (weights at the first evaluation with 100 % training accuracy) and
    ``generalised_state`` (weights at the first evaluation with validation accuracy >= ``TARGET``;
    None without ``valid_index`` or when not reached).
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=BETAS)
    batch = {"a": data.a[data.train_index], "b": data.b[data.train_index]}
    labels = data.label[data.train_index]
    result = {"epochs_to_95": max_epochs, "grokked": 0, "memorised_epoch": None, "memorised_state": None,
              "generalised_state": None}
    curve = result["curve"] = []
    for epoch in range(max_epochs + 1):
        if epoch % eval_every == 0 or epoch == max_epochs:
            train_acc, test_acc = _accuracy(model, data, data.train_index), _accuracy(model, data, data.test_index)
            curve.append((epoch, train_acc, test_acc))
            if result["memorised_state"] is None and train_acc == 1.0:
                result["memorised_epoch"], result["memorised_state"] = epoch, copy.deepcopy(model.state_dict())
            if (valid_index is not None and result["generalised_state"] is None
                    and _accuracy(model, data, valid_index) >= TARGET):
                result["generalised_state"] = copy.deepcopy(model.state_dict())
            if not result["grokked"] and test_acc >= TARGET:
                result["epochs_to_95"], result["grokked"] = epoch, 1
            if result["grokked"] and (valid_index is None or result["generalised_state"] is not None):
                return result
        if epoch == max_epochs:
            break
        loss = F.cross_entropy(model(batch), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if masks:
            apply_masks(model, masks)
    return result


def run_seed(seed: int, settings: dict, log=print) -> tuple[list[dict], dict[str, list]]:
    """Dense net, tickets and controls for one seed: table records and test-accuracy curves."""
    s = settings
    data, valid_index = split_held_out(modular_addition(s["p"], TRAIN_FRACTION, seed=seed))
    torch.manual_seed(seed)
    model = GrokkingMLP(s["p"], s["d_emb"], s["d_model"])
    init = copy.deepcopy(model.state_dict())
    records, curves = [], {}

    def fit(arm: str, fraction: float, decay: float, net: GrokkingMLP, max_epochs: int, masks=None, valid=None) -> dict:
        start_norm = weight_norm(net)
        result = train_full_batch(net, data, s["lr"], decay, max_epochs, s["eval_every"], masks, valid)
        last = result["curve"][-1]
        records.append({"arm": arm, "keep_fraction": fraction, "weight_decay": decay, "seed": seed,
                        "epochs_to_95": float(result["epochs_to_95"]), "grokked": float(result["grokked"]),
                        "final_test_acc": last[2], "init_weight_norm": start_norm})
        curves[f"{arm} keep={fraction:g} wd={decay:g}"] = [(e, te) for e, _, te in result["curve"]]
        state = f"{result['epochs_to_95']} epochs" if result["grokked"] else f"not within {max_epochs} epochs"
        log(f"seed {seed} {arm} keep {fraction:g} wd {decay:g}: test >= {TARGET:.0%} {state} (test acc {last[2]:.3f})")
        return result

    def rewound(masks=None) -> GrokkingMLP:
        net = GrokkingMLP(s["p"], s["d_emb"], s["d_model"])
        rewind(net, init, masks)
        return net

    dense = fit("dense", 1.0, s["weight_decay"], model, s["dense_epochs"], valid=valid_index)
    if dense["generalised_state"] is not None:
        model.load_state_dict(dense["generalised_state"])
    generalised = {name: w.detach().clone() for name, w in prunable(model).items()}
    for fraction in s["keep_fractions"]:
        masks = global_magnitude_masks(generalised, fraction)
        fit("ticket", fraction, s["weight_decay"], rewound(masks), s["retrain_epochs"], masks)
        fit("ticket_no_wd", fraction, 0.0, rewound(masks), s["retrain_epochs"], masks)

    fraction = s["control_fraction"]
    masks = random_masks(generalised, fraction, torch.Generator().manual_seed(seed + 1))
    fit("random_mask", fraction, s["weight_decay"], rewound(masks), s["retrain_epochs"], masks)
    if dense["memorised_state"] is not None:
        memorised = {name: dense["memorised_state"][name] for name in generalised}
        masks = global_magnitude_masks(memorised, fraction)
        fit("memorisation_mask", fraction, s["weight_decay"], rewound(masks), s["retrain_epochs"], masks)
    same_norm = rewound()
    rescale_to_norm(same_norm, weight_norm(rewound(global_magnitude_masks(generalised, fraction))))
    fit("dense_same_norm", 1.0, s["weight_decay"], same_norm, s["retrain_epochs"])
    return records, curves


def plot_curves(curves_by_seed: dict[int, dict[str, list]], path: Path) -> Path:
    """Test accuracy against epoch for every arm (first seed), one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seed = min(curves_by_seed)
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, points in curves_by_seed[seed].items():
        epochs, accuracy = zip(*points)
        ax.plot(epochs, accuracy, label=label, linestyle="-" if label.startswith(("dense ", "ticket")) else "--")
    ax.axhline(TARGET, color="grey", linewidth=0.8)
    ax.set(xlabel="epoch (full batch)", ylabel="test accuracy", title=f"Grokking tickets, modular addition (seed {seed})")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``data_dir`` is unused: the task is generated. The curves PNG goes under ``runs_dir/claims/grokking-tickets``."""
    started, clock = now_iso(), time.perf_counter()
    settings = SETTINGS.get(budget.name, SETTINGS["full"])
    seeds = list(range(budget.seeds))
    runs, curves = [], {}
    for seed in seeds:
        records, curves[seed] = run_seed(seed, settings, log)
        runs += records
    table = summarize(runs, ("arm", "keep_fraction", "weight_decay"), ("epochs_to_95", "grokked", "final_test_acc"))
    verdict_, reason = verdict(table)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    png = plot_curves(curves, Path(runs_dir) / "claims" / PAPER_ID / f"curves-{stamp}.png")
    s = settings
    pairs = s["p"] * (s["p"] + 1) // 2
    valid_pairs = (pairs - int(TRAIN_FRACTION * pairs)) // 2
    test_pairs = pairs - int(TRAIN_FRACTION * pairs) - valid_pairs
    notes = [
        f"Modular addition p={s['p']}, {TRAIN_FRACTION:.0%} of the {pairs} unordered pairs for training, "
        f"full batch; MLP d_emb={s['d_emb']}, d_model={s['d_model']}; AdamW lr {s['lr']}, betas {BETAS}, weight decay "
        f"{s['weight_decay']} (0 for ticket_no_wd).",
        f"Held-out pairs halved: {valid_pairs} validation pairs choose the dense net's generalised checkpoint (first "
        f"validation accuracy >= {TARGET:.0%}; its mask makes the tickets), {test_pairs} test pairs measure every arm.",
        f"epochs_to_95: first evaluation (every {s['eval_every']} epochs) with test accuracy >= {TARGET:.0%}; runs that never "
        f"get there count at their cap ({s['dense_epochs']} dense, {s['retrain_epochs']} retrained) with grokked = 0, "
        "so their mean is a lower bound.",
        "Masks: one global magnitude threshold over all four weight matrices (embedding, in, out, unembedding); keep_fraction "
        f"is the share kept; controls use keep_fraction {s['control_fraction']}. Unlike the paper's code, fully pruned hidden "
        "units are not revived ('relive_neurons').",
        f"Curves (test accuracy per epoch, first seed): {png}",
    ]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, seeds, runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Three checks from the table:

    1. speed-up: the fastest ticket with weight decay that grokked in every seed reaches 95 % at
       least ``SPEEDUP`` times sooner than the dense net, beyond one standard error;
    2. controls: every control in ``CONTROLS`` is present in every seed (the memorisation mask
       needs a dense run that reached 100 % training accuracy; a missing control fails this check)
       and, at the control fraction, each is slower than the ticket (beyond one standard error) or
       never groks;
    3. no weight decay: some ``ticket_no_wd`` fraction grokked in every seed.

    All three -> reproduced; the speed-up with one of the others, or no speed-up but grokking
    without weight decay -> partly reproduced; otherwise not reproduced.
    """
    dense = next(r for r in table if r["arm"] == "dense")
    tickets = [r for r in table if r["arm"] == "ticket" and r["grokked_mean"] == 1.0]
    metric = "epochs_to_95"
    if dense["grokked_mean"] != 1.0:
        return "not reproduced", (f"the dense net did not reach {TARGET:.0%} test accuracy in every seed "
                                  f"({dense['grokked_mean']:.0%} of seeds), so its ticket is not a grokking ticket")
    findings, fast = [], False
    best = min(tickets, key=lambda r: r[f"{metric}_mean"]) if tickets else None
    if best is None:
        findings.append("no ticket with weight decay reached 95 % in every seed")
    else:
        se = standard_error_of_difference(dense, best, metric)
        ratio = dense[f"{metric}_mean"] / max(best[f"{metric}_mean"], 1.0)
        fast = ratio >= SPEEDUP and dense[f"{metric}_mean"] - best[f"{metric}_mean"] > se
        findings.append(f"ticket (keep {best['keep_fraction']:g}) {best[f'{metric}_mean']:.0f} vs dense "
                        f"{dense[f'{metric}_mean']:.0f} epochs ({ratio:.1f}x{'' if fast else ', below ' + str(SPEEDUP) + 'x or within 1 SE'})")
    controls = [r for r in table if r["arm"] in CONTROLS]
    control_fraction = next((c["keep_fraction"] for c in controls if c["arm"] == "random_mask"), None)
    reference = next((r for r in table if r["arm"] == "ticket" and r["keep_fraction"] == control_fraction), None)
    beaten = []
    for control in controls:
        if reference is None or reference["grokked_mean"] < 1.0:
            findings.append("the ticket at the controls' keep fraction did not grok in every seed, so the controls are not compared")
            beaten = [False]
            break
        slower = control["grokked_mean"] < 1.0 or (
            control[f"{metric}_mean"] - reference[f"{metric}_mean"] > standard_error_of_difference(control, reference, metric))
        beaten.append(slower)
        findings.append(f"{control['arm']} {control[f'{metric}_mean']:.0f} epochs, grokked in {control['grokked_mean']:.0%} of seeds "
                        f"({'slower than' if slower else 'not slower than'} the ticket)")
    seeds_run = {c["arm"]: c["n"] for c in controls}
    missing = [arm for arm in CONTROLS if seeds_run.get(arm, 0) < dense["n"]]
    if missing:
        findings.append(f"control(s) {', '.join(missing)} missing in some or all seeds (the memorisation mask needs a dense "
                        "run that reached 100 % training accuracy), so the controls check does not pass")
    controls_ok = not missing and all(beaten) and len(beaten) == len(controls)
    no_wd = [r for r in table if r["arm"] == "ticket_no_wd" and r["grokked_mean"] == 1.0]
    findings.append("ticket without weight decay grokked at keep " + ", ".join(f"{r['keep_fraction']:g} ({r[f'{metric}_mean']:.0f} epochs)"
                                                                             for r in no_wd) if no_wd
                    else "no ticket grokked without weight decay")
    if fast and controls_ok and no_wd:
        outcome = "reproduced"
    elif (fast and (controls_ok or no_wd)) or (not fast and no_wd):
        outcome = "partly reproduced"
    else:
        outcome = "not reproduced"
    return outcome, "; ".join(findings) + "."
