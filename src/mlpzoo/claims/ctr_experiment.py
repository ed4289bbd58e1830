"""One seeded CTR fit on a named data set: the unit of evidence shared by the CTR claims.

Each fit has a stable run directory (claim, budget, data set, model, seed), so an interrupted
``mlpzoo reproduce`` picks up where it stopped: finished fits are only re-evaluated and the fit
that was cut off resumes from its last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlpzoo.claims.base import Budget
from mlpzoo.data.datasets import SplitDataset, load_dataset
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train import Trainer, seed_everything


def fit_ctr(dataset: SplitDataset, label: str, model_name: str, seed: int, model_kwargs: dict, train: dict, runs_dir: Path,
            run_prefix: str) -> dict:
    """Train ``model_name`` with ``seed`` and return one evidence row (test and valid metrics)."""
    seed_everything(seed)
    model = create_model(model_name, schema=dataset.schema, **model_kwargs)
    config = {"seed": seed, "progress": False, "run_dir": str(runs_dir / "fits"),
              "run_name": f"{run_prefix}-{dataset.name}-{label}-seed{seed}", **train}
    result = Trainer(get_task("binary_ctr"), model, config, run_config={"data": dataset.name, "model": {"name": model_name, **model_kwargs}}).fit(
        dataset.train, dataset.valid, dataset.test)
    row = {"dataset": dataset.name, "model": label, "seed": seed}
    row.update({f"test_{k}": v for k, v in result.metrics["test"].items()})
    row.update({f"valid_{k}": v for k, v in result.metrics["valid"].items()})
    row.update(epochs=result.epochs_run, parameters=sum(p.numel() for p in model.parameters()),
               train_samples_per_second=result.train_samples_per_second, run_dir=str(result.run_dir))
    return row


@dataclass(frozen=True)
class Arm:
    """One model configuration of an experiment: trained once per seed on ``dataset``."""

    dataset: str
    label: str
    model: str
    model_kwargs: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


def run_arms(paper_id: str, arms: list[Arm], budget: Budget, data_dir, runs_dir: Path, metrics: tuple[str, ...], log=print) -> tuple[list[dict], list[int]]:
    """Fit every arm with every seed of the budget; returns the evidence rows and the seeds."""
    seeds = [2021 + i for i in range(budget.seeds)]
    datasets: dict[str, SplitDataset] = {}
    runs = []
    for arm in arms:
        if arm.dataset not in datasets:
            datasets[arm.dataset] = load_dataset(arm.dataset, data_dir)
        train = {**arm.train, "epochs": budget.max_epochs, "patience": budget.patience}
        for seed in seeds:
            row = fit_ctr(datasets[arm.dataset], arm.label, arm.model, seed, arm.model_kwargs, train, Path(runs_dir), f"{paper_id}-{budget.name}")
            scores = ", ".join(f"test {m} {row[f'test_{m}']:.4f}" for m in metrics)
            log(f"{arm.dataset:>20} {arm.label:>16} seed {seed}: {scores} after {row['epochs']} epochs")
            runs.append(row)
    return runs, seeds
