"""One seeded CTR fit on a named data set: the unit of evidence shared by the CTR claims.

Each fit is one arm of the claim (``ctx.arm``), so an interrupted ``mlpzoo reproduce`` reuses the
finished fits; the fit that was cut off resumes from its last epoch through its own run directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpzoo.claims.base import ClaimContext
from mlpzoo.data.datasets import SplitDataset, load_dataset
from mlpzoo.measure import count_parameters
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train import Trainer


@dataclass(frozen=True)
class Arm:
    """One model configuration of an experiment: trained once per seed on ``dataset``."""

    dataset: str
    label: str
    model: str
    model_kwargs: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


def subsample(dataset: SplitDataset, max_train_rows: int | None) -> SplitDataset:
    """The first ``max_train_rows`` rows of the (already shuffled) training split; valid/test stay whole."""
    if not max_train_rows or len(dataset.train) <= max_train_rows:
        return dataset
    return SplitDataset(
        dataset.name,
        dataset.schema,
        dataset.train.select(slice(0, max_train_rows)),
        dataset.valid,
        dataset.test,
        {**dataset.info, "train_rows": max_train_rows},
    )


def fit_ctr(ctx: ClaimContext, dataset: SplitDataset, arm: Arm, seed: int, train: dict) -> dict:
    """Train ``arm`` with ``seed`` and return one evidence row (test and valid metrics)."""
    model = create_model(arm.model, schema=dataset.schema, **arm.model_kwargs)  # seeded by ctx.arm
    config = {
        "seed": seed,
        "progress": False,
        "run_dir": str(ctx.work_dir / "fits"),
        "run_name": f"{dataset.name}-{arm.label}-seed{seed}",
        **train,
    }
    result = Trainer(
        get_task("binary_ctr"),
        model,
        config,
        run_config={"data": dataset.name, "model": {"name": arm.model, **arm.model_kwargs}},
    ).fit(dataset.train, dataset.valid, dataset.test)
    row = {"dataset": dataset.name, "model": arm.label, "seed": seed}
    row.update({f"test_{k}": v for k, v in result.metrics["test"].items()})
    row.update({f"valid_{k}": v for k, v in result.metrics["valid"].items()})
    row.update(
        epochs=result.epochs_run,
        parameters=count_parameters(model),
        train_samples_per_second=result.train_samples_per_second,
    )
    return row


def run_arms(ctx: ClaimContext, arms: list[Arm], metrics: tuple[str, ...]) -> list[dict]:
    """Fit every arm with every seed of the budget (settings ``epochs``, ``patience``, ``max_train_rows``)."""
    s = ctx.settings
    ctx.expect(len(arms) * len(ctx.seeds))
    datasets: dict[str, SplitDataset] = {}
    runs = []
    for arm in arms:
        train = {**arm.train, "epochs": s["epochs"], "patience": s["patience"]}
        for seed in ctx.seeds:

            def fit(arm=arm, seed=seed, train=train):
                if arm.dataset not in datasets:
                    datasets[arm.dataset] = subsample(load_dataset(arm.dataset, ctx.data_dir), s.get("max_train_rows"))
                return fit_ctr(ctx, datasets[arm.dataset], arm, seed, train)

            row = ctx.arm(f"{arm.dataset}/{arm.label}/seed{seed}", fit, seed=seed)
            scores = ", ".join(f"test {m} {row[f'test_{m}']:.4f}" for m in metrics)
            ctx.log(f"{arm.dataset:>20} {arm.label:>16} seed {seed}: {scores} after {row['epochs']} epochs")
            runs.append(row)
    return runs
