"""Build data, model and Trainer from a YAML-style dict (``mlpzoo train CONFIG.yaml``).

Sections: ``data`` (a named data set, or your own train/valid/test files with a schema),
``model`` (``name`` plus constructor arguments), ``train`` (:class:`TrainConfig` fields) and
optionally ``task`` (default ``binary_ctr``). Unknown keys are errors that list the valid ones.
"""

from __future__ import annotations

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
            raise ConfigError(
                f"{where}: give either name (a data set such as frappe) or train + valid + schema (your "
                "files), not both or neither"
            )
        if self.train is not None and (self.valid is None or self.schema is None):
            raise ConfigError(f"{where}: with train files also give valid and schema")


def run_config(
    spec: dict[str, Any], source: str = "config", callbacks: Iterable[Callable[[int, dict], None]] = ()
) -> FitResult:
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: expected a mapping with sections data, model, train (got {type(spec).__name__})")
    unknown = sorted(set(spec) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {', '.join(map(str, unknown))}; valid sections are {', '.join(SECTIONS)}"
        )
    data = build_config(DataSection, section(spec, "data", source), "data")
    model_spec = section(spec, "model", source)
    if "name" not in model_spec:
        raise ConfigError(
            f"{source}: model.name is missing; run 'python -c \"import mlpzoo; "
            "print(mlpzoo.list_models())\"' for the choices"
        )
    model_name = model_spec.pop("name")
    train_spec = {"run_name": Path(source).stem, **section(spec, "train", source)}
    train_config = build_config(TrainConfig, train_spec, "train")
    task_name = spec.get("task", "binary_ctr")
    if not isinstance(task_name, str):
        raise ConfigError(f"{source}: task = {task_name!r}; give a task name such as binary_ctr")
    task = get_task(task_name)

    if data.name is not None:
        dataset = load_dataset(data.name, data.data_dir)
        files = {}
    else:
        dataset = load_files(data.train, data.valid, data.schema, data.test)
        files = {
            role: path for role, path in (("train", data.train), ("valid", data.valid), ("test", data.test)) if path
        }
    seed_everything(train_config.seed)
    model = create_model(model_name, schema=dataset.schema, **model_spec)
    resolved = {
        "source": source,
        "data": {k: v for k, v in vars(data).items() if v is not None},
        "model": {"name": model_name, **model_spec},
        "task": task.name,
    }
    # The Trainer writes schema.json (and everything else) only after the run's fingerprint check passes.
    trainer = Trainer(task, model, train_config, run_config=resolved, schema=dataset.schema, data_files=files)
    return trainer.fit(dataset.train, dataset.valid, dataset.test if len(dataset.test) else None, callbacks=callbacks)


def section(spec: dict, name: str, source: str) -> dict:
    """A config section as a fresh dict: missing or null is empty, anything but a mapping is an error."""
    value = spec.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: section {name} must be a mapping of keys to values, got {type(value).__name__} "
            f"{value!r:.60}; write it as '{name}:' followed by indented 'key: value' lines"
        )
    return dict(value)
