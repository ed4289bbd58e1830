"""FF-G2M (AAAI 2023): full-frequency GNN-to-MLP distillation beats GLNN, which beats a plain MLP.

Paper: Wu et al., "Extracting Low-/High- Frequency Knowledge from Graph Neural Networks and
Injecting it into MLPs: An Effective GNN-to-MLP Distillation Framework", AAAI 2023,
arXiv:2305.10758. Abstract: "FF-G2M improves over the vanilla MLPs by 12.6% and outperforms its
corresponding teacher GNNs by 2.6% averaged over six graph datasets and three common GNN
architectures." The GLNN baseline: Zhang et al., ICLR 2022, arXiv:2110.08727.

Experiment (:mod:`mlpzoo.methods.distill`), FF-G2M's protocol: for each data set (Cora, Citeseer
with the Planetoid public split and row-normalised features, as FF-G2M reads them through DGL; a
CSBM), teacher (GCN, GraphSAGE) and setting (transductive; inductive = 20 % of the test nodes held
out), train the teacher, then three MLP students: labels only (MLP), GLNN (KL to the teacher's soft
labels) and FF-G2M (low- and high-frequency losses along edges), each with the settings its authors
published (FF-G2M's best_parameters.json). Test accuracy (inductive: on the held-out nodes).

Calibration: GLNN's own Table 1 uses the CPF protocol (largest component, 20 / 30 labelled nodes
per class drawn per seed, raw features), which :func:`~mlpzoo.data.planetoid.load_planetoid` can
draw from the same Cora and Citeseer; there the SAGE teacher, the MLP and GLNN are run with GLNN's
train.conf.yaml, and GLNN is set against GLNN's Table 1 (:func:`~mlpzoo.claims.base.calibrated_verdict`:
GLNN more than two of the paper's sds below it reads "implementation below the paper's reported number
on matching data", never "not reproduced"). FF-G2M's own table could not be read here, so FF-G2M has no
calibration row.
"""

from __future__ import annotations

import math
from functools import partial

from mlpzoo.claims.base import (
    ClaimContext,
    ClaimSpec,
    Evidence,
    PaperNumber,
    calibrate,
    calibrated_verdict,
    compare,
    split_calibration,
    summarize,
)
from mlpzoo.claims.kits.graphs import CSBM, load_graph
from mlpzoo.methods.distill import run_distillation, student_config, teacher_config

# GLNN, Table 1 (transductive, CPF splits, SAGE teacher, 10 runs): GLNN's test accuracy in %. The same two
# figures are quoted as "Paper" in GammaGL's GLNN example (BUPT-GAMMA/GammaGL, examples/glnn/readme.md). The
# table's SAGE and MLP figures could not be read from a source here, so they are not quoted; our teacher and
# MLP on the CPF split stay in the runs of the ledger entry.
GLNN_TABLE1 = {
    ("cora", "glnn"): PaperNumber(80.54, 1.35, "GLNN Table 1, GLNN (SAGE teacher)"),
    ("citeseer", "glnn"): PaperNumber(71.77, 2.01, "GLNN Table 1, GLNN (SAGE teacher)"),
}
# GLNN is the distillation pipeline FF-G2M builds on (teacher logits, student, loop): it is the
# method whose implementation the calibration checks.
ROLES = {"glnn": "method"}
CLOSE = 0.01  # "close to the teacher": at most one accuracy point below, beyond one standard error
# A group whose plain MLP already scores this (test accuracy) leaves distillation nothing to show: GLNN cannot
# beat an MLP at the ceiling, so the group says nothing about the claim and is left out of the count.
CEILING = 0.995
METRICS = ("test_acc", "prod_acc")

SPEC = ClaimSpec(
    claim="FF-G2M students beat GLNN students, which beat plain MLPs, and come close to or above their GNN teachers.",
    paper_numbers={
        "FF-G2M abstract": "+12.6 % over vanilla MLPs and +2.6 % over the teacher GNNs, averaged over six data sets "
        "and three GNNs",
        "GLNN Table 1 (transductive, CPF splits, SAGE teacher)": "GLNN Cora 80.54 +- 1.35, Citeseer 71.77 +- 2.01",
    },
    datasets=("planetoid",),
    seeds={"quick": 1, "full": 5},
    # Groups are (data set, teacher, setting). Quick: every code path (both teachers, both settings, the
    # calibration) on Cora, few epochs, small networks. Full: main rows on the first `main_seeds` seeds, the
    # calibration on all five.
    settings={
        "quick": {
            "groups": (("cora", "gcn", "transductive"), ("cora", "sage", "inductive")),
            "main_seeds": 1,
            "max_epochs": 15,
            "teacher": {"hidden": 64, "num_layers": 2},
            "student": {"hidden": 64, "num_layers": 2},
            "calibration": ("cora",),
        },
        "full": {
            "groups": tuple((d, t, "transductive") for d in ("cora", "citeseer", "csbm") for t in ("gcn", "sage"))
            + (("cora", "sage", "inductive"), ("csbm", "sage", "inductive")),
            "main_seeds": 3,
            "max_epochs": None,
            "teacher": {},
            "student": {},
            "calibration": ("cora", "citeseer"),
        },
    },
    notes=(
        (
            "Main rows: FF-G2M's protocol and best_parameters.json per data set and teacher (the teacher shares the "
            "student's width and depth; student dropout = its dropout_t, teacher dropout = its dropout_s); the MLP, "
            "GLNN and FF-G2M students share that network and GLNN uses FF-G2M's lamb (FF-G2M's own GLNN ablation). "
            "Adam lr 0.01, weight decay 5e-4, up to 500 epochs, patience 50 on validation accuracy, full batch."
        ),
        (
            "Networks as both codes build them: the SAGE teacher is DGL's SAGEConv with the gcn aggregator on a "
            "self-looped graph, students start from nn.Linear's default initialisation, teacher logits come in eval "
            "mode from the best validation epoch. One deviation, for teachers only: the kept weights come from epoch "
            "20 on; from epoch 1 (both codes) an epoch-2 or -3 teacher with near-uniform soft labels was kept on "
            "some seeds and every student collapsed (recorded run, public Cora, SAGE, seed 2: GLNN 55.6 %, FF-G2M "
            "54.0 %; Cora CPF seed 3: teacher 72.2 %, GLNN 66.7 %)."
        ),
        (
            "Calibration rows: GLNN's protocol (CPF split of the largest component drawn per seed, raw binary "
            "features; GLNN's train.conf.yaml: SAGE 2 x 128, MLP 2 x 128, dropout 0.6 / 0.1, weight decay 5e-3 / "
            "1e-3 on Cora / Citeseer, lamb 0, 200 epochs, patience 50). Remaining differences: our SAGE trains on "
            "full neighbourhoods (GLNN: fan-out 5,5); GLNN's student takes minibatches of 512 nodes, ours the full "
            "graph; GLNN reports 10 runs, we run 5; Citeseer's component has 2,120 nodes here against CPF's 2,110. "
            "Only GLNN's own figures of GLNN's Table 1 are quoted: its SAGE and MLP figures could not be placed in a "
            "source here; our teacher and MLP on the CPF split are in the ledger entry's runs."
        ),
        "Inductive rows: test_acc is on the 20 % held-out test nodes; prod_acc = 0.8 * observed test + 0.2 * held-out.",
        (
            f"CSBM: {CSBM}, seed 0; its students take FF-G2M's Citeseer-GCN row, its teachers GLNN's "
            "train.conf.yaml rows (FF-G2M has none for it)."
        ),
        "FF-G2M's own table (public split) could not be read here, so FF-G2M has no calibration row.",
        (
            "Full budget: both teachers, transductive, on Cora, Citeseer and the CSBM; SAGE inductive (GLNN's "
            "production setting) on Cora and the CSBM; 3 seeds, the calibration on 5 (GLNN reports 10). The last full "
            "run (before the teacher and initialisation fixes) took 1,838 s on the 2-core machine; the SAGE teacher "
            "now has one weight matrix a layer instead of two and its first 20 epochs skip validation, so the "
            "estimate stays about 31 min. Left out against the paper: the GAT teacher and its other four data sets."
        ),
    ),
)


def experiment(ctx: ClaimContext) -> Evidence:
    s = ctx.settings
    groups = s["groups"]
    main_seeds = ctx.seeds[: s["main_seeds"]]
    ctx.expect(len(groups) * len(main_seeds) + len(s["calibration"]) * len(ctx.seeds))
    runs = []
    for dataset, teacher, setting in groups:
        graph = load_graph(dataset, ctx.data_dir)
        for seed in main_seeds:
            runs += ctx.arm(
                f"{dataset}/{teacher}/{setting}/seed{seed}",
                partial(_distil, graph, teacher, setting, seed, s),
                seed=seed,
            )
    calibration = []
    for dataset in s["calibration"]:
        for seed in ctx.seeds:
            calibration += ctx.arm(
                f"calibration/{dataset}/seed{seed}", partial(_calibration_run, ctx, dataset, seed), seed=seed
            )
    table = summarize(runs, ("dataset", "teacher", "setting", "model"), METRICS)
    table += calibration_rows(calibration)
    return Evidence(table, runs + calibration)


def calibration_rows(runs: list[dict]) -> list[dict]:
    """The calibration rows of runs on GLNN's protocol against GLNN's Table 1 (which reports accuracy in %)."""
    return calibrate(
        [{**r, "test_acc": 100 * r["test_acc"]} for r in runs], GLNN_TABLE1, ("dataset", "model"), "test_acc", ROLES
    )


def _epochs(s: dict) -> dict:
    return {} if s["max_epochs"] is None else {"max_epochs": s["max_epochs"]}


def _distil(graph, teacher: str, setting: str, seed: int, s: dict) -> list[dict]:
    t_cfg = teacher_config(teacher, graph.name, **_epochs(s), **s["teacher"])
    st_cfg = student_config(graph.name, teacher, **_epochs(s), **s["student"])
    records = run_distillation(graph, teacher, setting, seed, t_cfg, st_cfg)
    return [{**r, "prod_acc": r.get("prod_acc", math.nan)} for r in records]


def _calibration_run(ctx: ClaimContext, dataset: str, seed: int) -> list[dict]:
    """GLNN's protocol on the CPF split drawn with ``seed``: SAGE teacher, MLP and GLNN students."""
    graph = load_graph(dataset, ctx.data_dir, split="cpf", seed=seed)
    s = ctx.settings
    t_cfg = teacher_config("sage", dataset, "glnn", **_epochs(s))
    st_cfg = student_config(dataset, "sage", "glnn", **_epochs(s))
    return [
        {**r, "split": "cpf"}
        for r in run_distillation(graph, "sage", "transductive", seed, t_cfg, st_cfg, methods=("mlp", "glnn"))
    ]


def verdict(table: list[dict]) -> tuple[str, str]:
    """Per (data set, teacher, setting): FF-G2M beats GLNN and GLNN beats the MLP, each beyond one
    standard error, and FF-G2M is at most ``CLOSE`` below the teacher (beyond one SE). A group passes
    in full with all three; in part when FF-G2M only ties GLNN. A group whose MLP is at the ceiling
    (``CEILING``) is uninformative and not counted (none informative -> not checkable here). Every
    informative group in full -> reproduced; any in full or in part -> partly; none -> not reproduced.
    Then the calibration rows apply: GLNN more than two of the paper's sds below GLNN's Table 1 on its
    own protocol turns "not reproduced" into "not checkable here" (implementation below the paper)."""
    evidence, _ = split_calibration(table)
    rows = {(r["dataset"], r["teacher"], r["setting"], r["model"]): r for r in evidence}
    groups = sorted({k[:3] for k in rows})
    full = partial = 0
    findings, saturated = [], []
    for group in groups:
        ff, gl, ml, te = (rows[(*group, m)] for m in ("ffg2m", "glnn", "mlp", "teacher"))
        if ml["test_acc_mean"] >= CEILING:
            saturated.append(f"{'/'.join(group)} (MLP {ml['test_acc_mean']:.4f})")
            continue
        ff_vs_gl, gl_vs_ml = compare(ff, gl, "test_acc"), compare(gl, ml, "test_acc")
        ff_vs_te = compare(ff, te, "test_acc")
        close = ff_vs_te.margin + CLOSE >= -ff_vs_te.se
        base = gl_vs_ml.wins and close
        full += base and ff_vs_gl.wins
        partial += base and ff_vs_gl.ties
        word = "pass" if base and ff_vs_gl.wins else "partly" if base and ff_vs_gl.ties else "fail"
        findings.append(
            f"{'/'.join(group)}: FF-G2M {ff['test_acc_mean']:.4f}, GLNN {gl['test_acc_mean']:.4f}, "
            f"MLP {ml['test_acc_mean']:.4f}, teacher {te['test_acc_mean']:.4f} "
            f"({word}: FF-GLNN {ff_vs_gl}, "
            f"GLNN-MLP {gl_vs_ml}, FF-teacher {ff_vs_te})"
        )
    informative = len(groups) - len(saturated)
    if not informative:
        outcome = "not checkable here"
    elif full == informative:
        outcome = "reproduced"
    else:
        outcome = "partly reproduced" if full + partial else "not reproduced"
    reason = f"{full} of {informative} informative groups pass in full, {partial} in part. " + "; ".join(findings)
    if saturated:
        reason += (
            f"; uninformative, not counted (the plain MLP is already at the {CEILING} ceiling, so distillation "
            f"has no gap to close): {', '.join(saturated)}"
        )
    return calibrated_verdict(outcome, reason + ".", table)
