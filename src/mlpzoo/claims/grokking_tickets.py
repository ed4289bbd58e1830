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
d_model = 48, weight decay 1; the paper's d_emb = 500 and lr 1e-3 in the ``gpu`` budget; a
128-wide embedding on the CPU budgets, with lr 3e-3 in ``full`` and 1e-2 in ``quick``, so that
the dense net groks in minutes).

The held-out 60 % is split in two halves: validation pairs pick the dense net's generalised
checkpoint and the pruning rates judged, test pairs measure every arm. (The paper reads both off
its test curves; splitting keeps the training set and the measurement on unseen pairs as in the
paper, and stops the mask and the rate from being chosen on the pairs that then time the tickets.)

1. Dense: train with weight decay until validation and test accuracy both reach ``TARGET``
   (95 %); the weights at the first evaluation with validation accuracy >= 95 % are the
   generalised checkpoint (the last weights if never), those at the first with 100 % training
   accuracy the memorisation checkpoint.
2. Ticket: a global magnitude mask of the generalised weights keeping ``keep_fraction`` of all
   weight entries (:mod:`mlpzoo.methods.pruning`), survivors rewound to their initial values,
   retrained with and without weight decay (pruned weights held at zero).
3. Controls at ``control_fraction``: a random mask of the same sparsity; the magnitude mask of
   the memorisation checkpoint; the dense initialisation rescaled to the ticket's L2 norm. And for
   "grokking without weight decay": the dense net itself trained without weight decay, for as many
   epochs as the tickets get.

Measured: epochs until test (and validation) accuracy >= 95 % (evaluated every ``eval_every``
epochs; a run that never gets there is recorded at its epoch cap with ``grokked`` = 0). Curves of
test accuracy go to a PNG beside the claim's results.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, summarize
from mlpzoo.data.synthetic_tasks import ModularAddition, modular_addition
from mlpzoo.errors import ConfigError
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

TARGET = 0.95
SPEEDUP = 2.0  # "drastically accelerate": at least twice as fast
TRAIN_FRACTION = 0.4
BETAS = (0.9, 0.98)
CONTROLS = ("random_mask", "memorisation_mask", "dense_same_norm")
NO_WD_CONTROL = "dense_no_wd"

SPEC = ClaimSpec(
    claim=(
        "Magnitude-pruned subnetworks of a generalised net, rewound to initialisation ('grokking tickets'), "
        "reach full test accuracy much sooner than the dense net and than random, memorisation-time or "
        "equal-norm controls, and grok even without weight decay (where the dense net does not)."
    ),
    paper_numbers={
        "abstract": "tickets 'drastically accelerate grokking'; no speed-up for memorisation-time tickets "
        "or random pruning at initialisation; grokking without weight decay at an appropriate "
        "pruning rate"
    },
    settings={
        # Quick: one pruning rate and short caps; every arm and control runs.
        "quick": {
            "device": "cpu",
            "p": 67,
            "d_emb": 128,
            "d_model": 48,
            "lr": 1e-2,
            "weight_decay": 1.0,
            "dense_epochs": 2000,
            "retrain_epochs": 250,
            "keep_fractions": (0.4,),
            "control_fraction": 0.4,
            "eval_every": 10,
        },
        "full": {
            "device": "cpu",
            "p": 67,
            "d_emb": 128,
            "d_model": 48,
            "lr": 3e-3,
            "weight_decay": 1.0,
            "dense_epochs": 10000,
            "retrain_epochs": 6000,
            "keep_fractions": (0.6, 0.4, 0.2),
            "control_fraction": 0.4,
            "eval_every": 10,
        },
        # The paper's MLP (d_emb 500, lr 1e-3) with its long runs, on CUDA.
        "gpu": {
            "device": "cuda",
            "p": 67,
            "d_emb": 500,
            "d_model": 48,
            "lr": 1e-3,
            "weight_decay": 1.0,
            "dense_epochs": 30000,
            "retrain_epochs": 20000,
            "keep_fractions": (0.6, 0.4, 0.2),
            "control_fraction": 0.4,
            "eval_every": 10,
        },
    },
    seeds={"quick": 1, "full": 3, "gpu": 3},
    notes=(
        (
            "epochs_to_95: first evaluation with test accuracy >= 95 %; runs that never get there count at their cap "
            "with "
            "grokked = 0, so their mean is a lower bound. valid_epochs_to_95 is the same on the validation pairs: the "
            "pruning rate judged (with and without weight decay) is the one fastest on validation."
        ),
        (
            "Masks: one global magnitude threshold over all four weight matrices (embedding, in, out, unembedding); "
            "controls "
            "at control_fraction. Unlike the paper's code, fully pruned hidden units are not revived "
            "('relive_neurons'). "
            "The equal-norm control matches the L2 norm only (the paper also matches L1)."
        ),
        (
            "Full budget (CPU): d_emb 128 and lr 3e-3 instead of the paper's 500 and 1e-3 (the gpu budget), dense cap "
            "10,000 epochs, retraining caps 6,000 (paper: 30,000 / 20,000); 11 runs a seed at about 13 ms an epoch "
            "(measured "
            "on a loaded 2-core machine): at most 45 min for 3 seeds if nothing groks, about 35 min when only the "
            "tickets "
            "and the dense net do. At lr 1e-2 (the quick budget) weight decay wipes the rewound tickets out before "
            "they "
            "learn; a side run at lr 3e-3 had the 0.4 ticket at 46 % test accuracy after 1,500 epochs, the dense net "
            "at 6 %."
        ),
    ),
)


def _accuracy(model, data: ModularAddition, index: torch.Tensor) -> float:
    with torch.no_grad():
        logits = model({"a": data.a[index], "b": data.b[index]})
    return float((logits.argmax(1) == data.label[index]).float().mean())


def split_held_out(data: ModularAddition) -> tuple[ModularAddition, torch.Tensor]:
    """Halve the held-out pairs (already in random order): (data whose test_index is the second half, validation
    index)."""
    half = data.test_index.numel() // 2
    return replace(data, test_index=data.test_index[half:]), data.test_index[:half]


def train_full_batch(
    model: GrokkingMLP,
    data: ModularAddition,
    lr: float,
    weight_decay: float,
    max_epochs: int,
    eval_every: int,
    masks=None,
    valid_index: torch.Tensor | None = None,
    device: str = "cpu",
) -> dict:
    """Full-batch AdamW until test accuracy >= ``TARGET`` (and, given ``valid_index``, validation
    accuracy too) or ``max_epochs``.

    Returns the curve ``[(epoch, train_acc, test_acc)]``, ``epochs_to_95`` (first test accuracy >=
    ``TARGET``; ``max_epochs`` when not reached), ``grokked``, ``valid_epochs_to_95`` (the same on
    validation; None without ``valid_index``), ``memorised_epoch`` and ``memorised_state`` (weights at
    the first evaluation with 100 % training accuracy) and ``generalised_state`` (weights at the first
    evaluation with validation accuracy >= ``TARGET``; None without ``valid_index`` or when not reached).
    Training runs on ``device`` (the model is moved there).
    """
    device = _device(device)
    model.to(device)
    data = replace(data, **{f: getattr(data, f).to(device) for f in ("a", "b", "label", "train_index", "test_index")})
    valid_index = None if valid_index is None else valid_index.to(device)
    masks = {name: mask.to(device) for name, mask in masks.items()} if masks else masks
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=BETAS)
    batch = {"a": data.a[data.train_index], "b": data.b[data.train_index]}
    labels = data.label[data.train_index]
    result = {
        "epochs_to_95": max_epochs,
        "grokked": 0,
        "memorised_epoch": None,
        "memorised_state": None,
        "generalised_state": None,
        "valid_epochs_to_95": None if valid_index is None else max_epochs,
    }
    curve = result["curve"] = []
    for epoch in range(max_epochs + 1):
        if epoch % eval_every == 0 or epoch == max_epochs:
            train_acc, test_acc = _accuracy(model, data, data.train_index), _accuracy(model, data, data.test_index)
            curve.append((epoch, train_acc, test_acc))
            if result["memorised_state"] is None and train_acc == 1.0:
                result["memorised_epoch"], result["memorised_state"] = epoch, copy.deepcopy(model.state_dict())
            if (
                valid_index is not None
                and result["generalised_state"] is None
                and _accuracy(model, data, valid_index) >= TARGET
            ):
                result["generalised_state"] = copy.deepcopy(model.state_dict())
                result["valid_epochs_to_95"] = epoch
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


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "the gpu budget of grokking-tickets trains on CUDA but no CUDA device is available; use --budget full"
        )
    return torch.device(name)


def _cpu(state: dict | None) -> dict | None:
    return None if state is None else {name: tensor.detach().cpu() for name, tensor in state.items()}


def _fit(
    arm: str,
    fraction: float,
    decay: float,
    net: GrokkingMLP,
    data,
    valid,
    settings: dict,
    max_epochs: int,
    seed: int,
    masks=None,
) -> tuple[dict, dict]:
    """Train one arm; (its evidence row with the test-accuracy curve, the raw result)."""
    start_norm = weight_norm(net)
    result = train_full_batch(
        net, data, settings["lr"], decay, max_epochs, settings["eval_every"], masks, valid, settings["device"]
    )
    row = {
        "arm": arm,
        "keep_fraction": fraction,
        "weight_decay": decay,
        "seed": seed,
        "epochs_to_95": float(result["epochs_to_95"]),
        "grokked": float(result["grokked"]),
        "valid_epochs_to_95": float(result["valid_epochs_to_95"]),
        "final_test_acc": result["curve"][-1][2],
        "init_weight_norm": start_norm,
        "curve": [[e, te] for e, _, te in result["curve"]],
    }
    return row, result


def run_dense(seed: int, settings: dict, checkpoint: Path) -> dict:
    """The dense net with weight decay; its initial, generalised and memorised weights go to ``checkpoint``."""
    s = settings
    data, valid = split_held_out(modular_addition(s["p"], TRAIN_FRACTION, seed=seed))
    model = GrokkingMLP(s["p"], s["d_emb"], s["d_model"])
    init = copy.deepcopy(model.state_dict())
    row, result = _fit("dense", 1.0, s["weight_decay"], model, data, valid, s, s["dense_epochs"], seed)
    generalised = _cpu(result["generalised_state"] or model.state_dict())
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint.with_suffix(".tmp")
    torch.save({"init": init, "generalised": generalised, "memorised": _cpu(result["memorised_state"])}, tmp)
    tmp.replace(checkpoint)  # atomic: a resumed run never reads half a file
    return row


def retrain_arms(settings: dict) -> list[tuple[str, float, float]]:
    """(arm, keep fraction, weight decay) of every run after the dense one, in order."""
    wd, control = settings["weight_decay"], settings["control_fraction"]
    arms = [
        (arm, fraction, decay)
        for fraction in settings["keep_fractions"]
        for arm, decay in (("ticket", wd), ("ticket_no_wd", 0.0))
    ]
    arms += [
        ("random_mask", control, wd),
        ("memorisation_mask", control, wd),
        ("dense_same_norm", 1.0, wd),
        (NO_WD_CONTROL, 1.0, 0.0),
    ]
    return arms


def run_retrain(arm: str, fraction: float, decay: float, seed: int, settings: dict, checkpoint: Path) -> dict | None:
    """One ticket or control, rewound to the dense net's initialisation; None when it cannot be built (no
    memorisation checkpoint)."""
    s = settings
    data, valid = split_held_out(modular_addition(s["p"], TRAIN_FRACTION, seed=seed))
    states = torch.load(checkpoint, weights_only=True)
    generalised = {name: w for name, w in states["generalised"].items() if name in _prunable_names(s)}

    def rewound(masks=None) -> GrokkingMLP:
        net = GrokkingMLP(s["p"], s["d_emb"], s["d_model"])
        rewind(net, states["init"], masks)
        return net

    masks = None
    if arm in ("ticket", "ticket_no_wd"):
        masks = global_magnitude_masks(generalised, fraction)
    elif arm == "random_mask":
        masks = random_masks(generalised, fraction, torch.Generator().manual_seed(seed + 1))
    elif arm == "memorisation_mask":
        if states["memorised"] is None:
            return None
        masks = global_magnitude_masks({name: states["memorised"][name] for name in generalised}, fraction)
    net = rewound(masks)
    if arm == "dense_same_norm":
        rescale_to_norm(net, weight_norm(rewound(global_magnitude_masks(generalised, s["control_fraction"]))))
    return _fit(arm, fraction, decay, net, data, valid, s, s["retrain_epochs"], seed, masks)[0]


def _prunable_names(settings: dict) -> set[str]:
    with torch.device("meta"):
        return set(prunable(GrokkingMLP(settings["p"], settings["d_emb"], settings["d_model"])))


def experiment(ctx: ClaimContext) -> Evidence:
    """Per seed: the dense net (its weights cached in the work folder), then every ticket and control."""
    s = ctx.settings
    arms = retrain_arms(s)
    ctx.expect(len(ctx.seeds) * (1 + len(arms)))
    runs, curves = [], {}
    for seed in ctx.seeds:
        checkpoint = ctx.work_dir / f"dense-seed{seed}.pt"
        rows = [ctx.arm(f"seed{seed}/dense", lambda sd=seed, c=checkpoint: run_dense(sd, s, c), seed=seed)]
        for arm, fraction, decay in arms:
            key = f"seed{seed}/{arm}/keep{fraction:g}/wd{decay:g}"
            row = ctx.arm(
                key, lambda a=arm, f=fraction, d=decay, sd=seed, c=checkpoint: run_retrain(a, f, d, sd, s, c), seed=seed
            )
            if row is None:
                ctx.log(f"seed {seed} {arm}: the dense net never reached 100 % training accuracy, no memorisation mask")
            else:
                rows.append(row)
        for row in rows:
            curves.setdefault(seed, {})[f"{row['arm']} keep={row['keep_fraction']:g} wd={row['weight_decay']:g}"] = (
                row.pop("curve")
            )
            state = f"{row['epochs_to_95']:.0f} epochs" if row["grokked"] else "never"
            ctx.log(
                f"seed {seed} {row['arm']} keep {row['keep_fraction']:g} wd {row['weight_decay']:g}: test >= "
                f"{TARGET:.0%} {state} (final test acc {row['final_test_acc']:.3f})"
            )
        runs += rows
    table = summarize(
        runs,
        ("arm", "keep_fraction", "weight_decay"),
        ("epochs_to_95", "valid_epochs_to_95", "grokked", "final_test_acc"),
    )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    png = plot_curves(curves, ctx.runs_dir / "claims" / ctx.paper_id / f"curves-{stamp}.png")
    pairs = s["p"] * (s["p"] + 1) // 2
    held_out = pairs - int(TRAIN_FRACTION * pairs)
    notes = [
        (
            f"Modular addition p={s['p']}, {TRAIN_FRACTION:.0%} of the {pairs} unordered pairs for training, full "
            "batch; "
            f"MLP d_emb={s['d_emb']}, d_model={s['d_model']}; AdamW lr {s['lr']}, betas {BETAS}, weight decay "
            f"{s['weight_decay']} (0 for ticket_no_wd and {NO_WD_CONTROL}); {held_out // 2} validation and "
            f"{held_out - held_out // 2} test pairs; caps {s['dense_epochs']} (dense) and {s['retrain_epochs']} epochs."
        ),
        f"Curves (test accuracy per epoch, first seed): {png}",
    ]
    return Evidence(table, runs, notes)


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
    ax.set(
        xlabel="epoch (full batch)", ylabel="test accuracy", title=f"Grokking tickets, modular addition (seed {seed})"
    )
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------- the verdict
def _faster(a: dict, b: dict) -> bool:
    """``a`` reaches 95 % test accuracy sooner than ``b`` beyond one standard error, or ``b`` does not grok every
    seed."""
    return b["grokked_mean"] < 1.0 or compare(a, b, "epochs_to_95", higher_is_better=False).wins


def _chosen_on_validation(rows: list[dict]) -> dict | None:
    """The pruning rate fastest to 95 % on the validation pairs (the test pairs play no part in the choice)."""
    return min(rows, key=lambda r: r["valid_epochs_to_95_mean"], default=None)


def _speed_up(dense: dict, ticket: dict | None) -> tuple[bool, str]:
    if ticket is None:
        return False, "no ticket with weight decay in the table"
    ratio = dense["epochs_to_95_mean"] / max(ticket["epochs_to_95_mean"], 1.0)
    lead = compare(ticket, dense, "epochs_to_95", higher_is_better=False)
    fast = ticket["grokked_mean"] == 1.0 and ratio >= SPEEDUP and lead.wins
    return fast, (
        f"ticket (keep {ticket['keep_fraction']:g}, chosen on validation) {ticket['epochs_to_95_mean']:.0f} vs "
        f"dense {dense['epochs_to_95_mean']:.0f} epochs ({ratio:.1f}x, {lead} epochs; grokked in "
        f"{ticket['grokked_mean']:.0%} of seeds){'' if fast else f': not a {SPEEDUP:g}x speed-up beyond 1 SE'}"
    )


def _controls(table: list[dict], dense: dict) -> tuple[bool, list[str]]:
    controls = {r["arm"]: r for r in table if r["arm"] in CONTROLS}
    fraction = controls["random_mask"]["keep_fraction"] if "random_mask" in controls else None
    reference = next((r for r in table if r["arm"] == "ticket" and r["keep_fraction"] == fraction), None)
    if reference is None or reference["grokked_mean"] < 1.0:
        return False, [
            "the ticket at the controls' keep fraction did not grok in every seed, so the controls are not compared"
        ]
    findings, ok = [], True
    for name in CONTROLS:
        control = controls.get(name)
        if control is None or control["n"] < dense["n"]:
            findings.append(
                f"{name} missing in some or all seeds (the memorisation mask needs a dense run that reached "
                "100 % training accuracy), so the controls check does not pass"
            )
            ok = False
            continue
        slower = _faster(reference, control)
        ok &= slower
        findings.append(
            f"{name} {control['epochs_to_95_mean']:.0f} epochs, grokked in {control['grokked_mean']:.0%} of seeds "
            f"({'slower than' if slower else 'not slower than'} the ticket beyond 1 SE)"
        )
    return ok, findings


def _without_weight_decay(table: list[dict]) -> tuple[bool, str]:
    ticket = _chosen_on_validation([r for r in table if r["arm"] == "ticket_no_wd"])
    dense = next((r for r in table if r["arm"] == NO_WD_CONTROL), None)
    if ticket is None or dense is None:
        return False, f"no ticket_no_wd or {NO_WD_CONTROL} row, so grokking without weight decay is not checked"
    ok = ticket["grokked_mean"] == 1.0 and _faster(ticket, dense)
    return ok, (
        f"without weight decay: ticket (keep {ticket['keep_fraction']:g}, chosen on validation) "
        f"{ticket['epochs_to_95_mean']:.0f} epochs, grokked in {ticket['grokked_mean']:.0%} of seeds; dense "
        f"{dense['epochs_to_95_mean']:.0f} epochs, grokked in {dense['grokked_mean']:.0%} "
        + (
            "(the ticket groks and the dense net does not match it)"
            if ok
            else "(no grokking that only the ticket achieves)"
        )
    )


def verdict(table: list[dict]) -> tuple[str, str]:
    """Three checks from the table, every pruning rate judged chosen on validation epochs:

    1. speed-up: the ticket with weight decay groks in every seed and reaches 95 % test accuracy at
       least ``SPEEDUP`` times sooner than the dense net, beyond one standard error;
    2. controls: every control in ``CONTROLS`` is present in every seed and, at the control fraction,
       is slower than the ticket beyond one standard error or does not grok in every seed;
    3. no weight decay: the ticket without weight decay groks in every seed, and sooner (beyond 1 SE)
       than the dense net trained without weight decay for as long (or that one does not grok).

    A dense net that does not grok in every seed gives no grokking ticket: not reproduced. All three ->
    reproduced; the speed-up with one of the others, or grokking without weight decay alone -> partly
    reproduced (the controls only qualify a speed-up); otherwise not reproduced.
    """
    dense = next(r for r in table if r["arm"] == "dense")
    if dense["grokked_mean"] != 1.0:
        return "not reproduced", (
            f"the dense net did not reach {TARGET:.0%} test accuracy in every seed "
            f"({dense['grokked_mean']:.0%} of seeds), so its ticket is not a grokking ticket"
        )
    fast, finding = _speed_up(dense, _chosen_on_validation([r for r in table if r["arm"] == "ticket"]))
    controls_ok, control_findings = _controls(table, dense)
    no_wd, no_wd_finding = _without_weight_decay(table)
    if fast and controls_ok and no_wd:
        outcome = "reproduced"
    elif (fast and (controls_ok or no_wd)) or no_wd:
        outcome = "partly reproduced"
    else:
        outcome = "not reproduced"
    return outcome, "; ".join([finding, *control_findings, no_wd_finding]) + "."
