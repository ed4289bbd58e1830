"""Build data, model and Trainer from a YAML-style dict (``mlpzoo train CONFIG.yaml``).

Sections: ``data`` (a named data set, or your own train/valid/test files with a schema),
``model`` (``name`` plus constructor arguments), ``train`` (:class:`TrainConfig` fields) and
optionally ``task`` (default ``binary_ctr``). Unknown keys are errors that list the valid ones.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from mlpzoo.config import build_config
from mlpzoo.data.datasets import load_dataset, load_files
from mlpzoo.errors import ConfigError
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.config import TrainConfig
from mlpzoo.train.trainer import FitResult, Trainer, seed_everything

SECTIONS = ("data", "model", "train", "task", "tune")  # tune: search spaces for `mlpzoo tune`, unused by a plain fit
SCHEMA_FILE = "schema.json"  # the fitted feature schema, beside config.yaml, so `mlpzoo export` can rebuild the model


@dataclass
class DataSection:
    """``name`` of a registered data set, or ``train``/``valid``/``test`` files plus ``schema``."""

    name: str | None = None
    data_dir: str | None = None
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    schema: dict | None = None

    def validate(self, where: str) -> None:
        if (self.name is None) == (self.train is None):
            raise ConfigError(f"{where}: give either name (a data set such as frappe) or train + valid + schema (your files), not both or neither")
        if self.train is not None and (self.valid is None or self.schema is None):
            raise ConfigError(f"{where}: with train files also give valid and schema")


def run_config(spec: dict[str, Any], source: str = "config", callbacks: Iterable[Callable[[int, dict], None]] = ()) -> FitResult:
    unknown = sorted(set(spec) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)}; valid sections are {', '.join(SECTIONS)}")
    data = build_config(DataSection, spec.get("data"), "data")
    model_spec = dict(spec.get("model") or {})
    if "name" not in model_spec:
        raise ConfigError(f"{source}: model.name is missing; run 'python -c \"import mlpzoo; print(mlpzoo.list_models())\"' for the choices")
    model_name = model_spec.pop("name")
    train_spec = {"run_name": Path(source).stem, **(spec.get("train") or {})}
    train_config = build_config(TrainConfig, train_spec, "train")
    task = get_task(spec.get("task", "binary_ctr"))

    if data.name is not None:
        dataset = load_dataset(data.name, data.data_dir)
    else:
        dataset = load_files(data.train, data.valid, data.schema, data.test)
    seed_everything(train_config.seed)
    model = create_model(model_name, schema=dataset.schema, **model_spec)
    resolved = {"source": source, "data": {k: v for k, v in vars(data).items() if v is not None}, "model": {"name": model_name, **model_spec}, "task": task.name}
    trainer = Trainer(task, model, train_config, run_config=resolved)
    if train_config.save_checkpoints and train_config.run_name and int(os.environ.get("RANK", "0")) == 0:
        save_schema(dataset.schema, Path(train_config.run_dir) / train_config.run_name)
    return trainer.fit(dataset.train, dataset.valid, dataset.test if len(dataset.test) else None, callbacks=callbacks)


def save_schema(schema, run_dir: Path) -> None:
    """Write the fitted schema (vocabularies, statistics) as ``run_dir/schema.json``, atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".{SCHEMA_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(schema.to_dict()))
    os.replace(tmp, run_dir / SCHEMA_FILE)
