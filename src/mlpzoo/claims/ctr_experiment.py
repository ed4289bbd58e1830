"""One seeded CTR fit on a named data set: the unit of evidence shared by the CTR claims.

Each fit has a stable run directory (claim, budget, data set, model, seed), so an interrupted
``mlpzoo reproduce`` picks up where it stopped: finished fits are only re-evaluated and the fit
that was cut off resumes from its last epoch.
"""

from __future__ import annotations

from pathlib import Path

from mlpzoo.data.datasets import SplitDataset
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
