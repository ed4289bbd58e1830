"""CTR training throughput: FinalMLP on Frappe, mlpzoo's Trainer vs a conventional PyTorch loop.

Both sides train the same FinalMLP (default Frappe_x1 configuration, batch 4096) on the standard
Frappe split in the same process, so the ratio is free of machine noise between runs:

- ``mlpzoo``: the Trainer, whose batches are slices of pre-encoded tensors.
- ``dataloader loop``: the usual recipe, ``torch.utils.data.DataLoader`` over a ``TensorDataset``
  (per-row indexing and collation), same model, loss, regulariser, clipping and Adam.
- ``compute limit``: the Trainer's step alone (forward, loss + regulariser, backward, clipping, Adam
  step) on batches built before the clock starts, no data pipeline and no bookkeeping: the most any
  training loop could reach with this model here. The Trainer's samples/s is reported as a fraction
  of it (goal >= 85 %); epochs of the two alternate so that machine load hits both alike.

FuxiCTR 2.3.10 is printed beside them: measured by ``benchmarks/fuxictr_finalmlp.py`` (a
throw-away FuxiCTR environment on the same machine) when its JSON output exists, else the figure
that script measured on the project's 2-core development machine (:data:`FUXICTR_MEASURED`).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from mlpzoo.data.datasets import load_dataset
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train import Trainer, seed_everything

# FuxiCTR 2.3.10 FinalMLP on the same Frappe split, measured by benchmarks/fuxictr_finalmlp.py on the
# project's 2-core development machine on 2026-11-26 (2 threads, median of 5 epochs; benchmarks/README.md).
# Another machine trains at another speed: measure there for a fair ratio.
FUXICTR_MEASURED_SAMPLES_PER_S = 14_566
FUXICTR_MEASURED = "FuxiCTR 2.3.10 (14,566 samples/s measured on a 2-core dev machine, 2026-11-26; not this machine)"


def fuxictr_figure(measured_json: Path | None) -> tuple[float, str]:
    """FuxiCTR's samples/s: the side-by-side measurement if there is one, else the dev machine's figure."""
    if measured_json is not None and measured_json.exists():
        measured = json.loads(measured_json.read_text())
        return float(
            measured["samples_per_s"]
        ), f"FuxiCTR {measured.get('fuxictr_version', '')} (measured, {measured_json})"
    return float(FUXICTR_MEASURED_SAMPLES_PER_S), FUXICTR_MEASURED


def _dataloader_throughput(dataset, epochs: int, seed: int) -> list[float]:
    seed_everything(seed)
    model = create_model("finalmlp", schema=dataset.schema)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    task = get_task("binary_ctr")
    loader = DataLoader(TensorDataset(dataset.train.categorical, dataset.train.label), batch_size=4096, shuffle=True)
    speeds = []
    empty_numeric = torch.zeros(0)
    for _ in range(epochs):
        model.train()
        rows, start = 0, time.perf_counter()
        for categorical, label in loader:
            batch = {
                "categorical": categorical,
                "numeric": empty_numeric.expand(len(label), 0),
                "sequences": {},
                "label": label,
            }
            optimizer.zero_grad()
            loss = task.loss(model(batch), batch) + model.regularization_loss(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            rows += len(label)
        speeds.append(rows / (time.perf_counter() - start))
    return speeds


def _compute_limit_epoch(model, optimizer, task, batches: list[dict]) -> float:
    """Samples/s of the Trainer's step on pre-built batches (the same operations, nothing else)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    model.train()
    rows, start = 0, time.perf_counter()
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(model(batch), batch)
        (loss + model.regularization_loss(batch)).backward()
        torch.nn.utils.clip_grad_norm_(parameters, 10.0, foreach=True)
        optimizer.step()
        rows += len(batch["label"])
    return rows / (time.perf_counter() - start)


def trainer_vs_compute_limit(dataset, epochs: int, seed: int, config: dict | None = None) -> dict:
    """The Trainer's FinalMLP samples/s and the compute limit's, epochs alternating, medians."""
    task = get_task("binary_ctr")
    seed_everything(seed)
    model = create_model("finalmlp", schema=dataset.schema)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3, foreach=True)
    # The same shuffled batches the Trainer draws in its first epoch, materialised before timing.
    batches = [dict(b) for b in dataset.train.iter_batches(4096, shuffle=True, seed=seed, epoch=1)]
    batches = [b for b in batches if len(b["label"]) >= 2]
    seed_everything(seed)
    trainer_model = create_model("finalmlp", schema=dataset.schema)
    settings = {"epochs": epochs, "patience": epochs + 1, "seed": seed, "progress": False, "save_checkpoints": False}
    limit_speeds = []

    def compute_limit_epoch(epoch: int, record: dict) -> None:  # runs between the Trainer's epochs
        limit_speeds.append(_compute_limit_epoch(model, optimizer, task, batches))

    trainer = Trainer(task, trainer_model, {**settings, **(config or {})})
    history = trainer.fit(dataset.train, dataset.valid, callbacks=[compute_limit_epoch]).history
    trainer_speeds = [h["train_samples_per_second"] for h in history]
    ours, limit = statistics.median(trainer_speeds), statistics.median(limit_speeds)
    return {
        "trainer_samples_per_s": ours,
        "compute_limit_samples_per_s": limit,
        "fraction": ours / limit,
        "trainer_epochs": trainer_speeds,
        "compute_limit_epochs": limit_speeds,
    }


def run_ctr_benchmark(
    epochs: int = 5,
    threads: int = 2,
    data_dir=None,
    full_reproduce: bool = False,
    converge: bool = True,
    fuxictr_json: Path | None = None,
    seed: int = 2021,
    log=print,
) -> dict:
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    dataset = load_dataset("frappe", data_dir)
    log(f"Frappe: {len(dataset.train):,} training rows, batch 4096, {threads} threads, {epochs} timed epochs")

    # Medians over epochs: robust to a first-epoch warm-up and to a busy machine.
    limit = trainer_vs_compute_limit(dataset, epochs, seed)
    ours = limit["trainer_samples_per_s"]
    baseline = statistics.median(_dataloader_throughput(dataset, epochs, seed))

    fuxictr, fuxictr_label = fuxictr_figure(fuxictr_json)
    rows = [
        {
            "implementation": "mlpzoo Trainer",
            "train_samples_per_s": ours,
            "ratio_vs_dataloader": ours / baseline,
            "ratio_vs_fuxictr": ours / fuxictr,
        },
        {
            "implementation": "compute limit (pre-built batches, same run)",
            "train_samples_per_s": limit["compute_limit_samples_per_s"],
            "ratio_vs_dataloader": limit["compute_limit_samples_per_s"] / baseline,
            "ratio_vs_fuxictr": limit["compute_limit_samples_per_s"] / fuxictr,
        },
        {
            "implementation": "DataLoader loop (same run)",
            "train_samples_per_s": baseline,
            "ratio_vs_dataloader": 1.0,
            "ratio_vs_fuxictr": baseline / fuxictr,
        },
        {
            "implementation": fuxictr_label,
            "train_samples_per_s": fuxictr,
            "ratio_vs_dataloader": fuxictr / baseline,
            "ratio_vs_fuxictr": 1.0,
        },
    ]
    summary = [
        f"mlpzoo trains FinalMLP at {ours:,.0f} samples/s: {ours / baseline:.2f}x the DataLoader loop measured in "
        "this run "
        f"and {ours / fuxictr:.2f}x {fuxictr_label}.",
        f"Trainer vs compute limit (epochs alternating, same run): {limit['trainer_samples_per_s']:,.0f} / "
        f"{limit['compute_limit_samples_per_s']:,.0f} samples/s = {limit['fraction']:.1%} of the limit (goal >= 85 %).",
    ]
    report = {
        "rows": rows,
        "summary": summary,
        "threads": threads,
        "epochs": epochs,
        "compute_limit": limit,
        "fuxictr_samples_per_s": fuxictr,
        "fuxictr_source": fuxictr_label,
        "loadavg": os.getloadavg(),
    }
    if converge:
        # Speed only counts at equal quality: train to early stopping and report the test AUC.
        seed_everything(seed)
        converged_model = create_model("finalmlp", schema=dataset.schema)
        start = time.perf_counter()
        converged = Trainer(
            get_task("binary_ctr"), converged_model, {"seed": seed, "progress": False, "save_checkpoints": False}
        ).fit(dataset.train, dataset.valid, dataset.test)
        fit_seconds = time.perf_counter() - start
        report["converged"] = {
            "test": converged.metrics["test"],
            "best_epoch": converged.best_epoch,
            "epochs": converged.epochs_run,
            "seconds": fit_seconds,
        }
        summary.append(
            f"Converged fit (early stopping): test AUC {converged.metrics['test']['auc']:.4f}, logloss "
            f"{converged.metrics['test']['logloss']:.4f}, best epoch {converged.best_epoch} of "
            f"{converged.epochs_run}, {fit_seconds:.1f} s wall."
        )
    if full_reproduce:
        import tempfile
        from pathlib import Path

        from mlpzoo.claims.base import get_budget
        from mlpzoo.claims.finalmlp import run

        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as runs:
            result = run(get_budget("full"), data_dir=data_dir, runs_dir=Path(runs), log=log)
        wall = time.perf_counter() - start
        report["full_reproduce"] = {"seconds": wall, "verdict": result.verdict, "reason": result.reason}
        summary.append(f"reproduce finalmlp --budget full: {wall / 60:.1f} min wall, verdict {result.verdict}.")
    return report
