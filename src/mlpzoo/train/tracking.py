"""Experiment tracking from the Trainer: MLflow or TensorBoard, switched by ``train.tracking``.

Both are optional extras (``pip install mlpzoo[tracking]``) and are imported only when a run asks
for them. A tracker receives the resolved configuration once, one record of metrics per epoch,
and the final metrics; MLflow also gets the run directory's report and checkpoint as artifacts.
"""

from __future__ import annotations

import math
from pathlib import Path

from mlpzoo.errors import ConfigError
from mlpzoo.train.rundir import RunDir

__all__ = ["make_tracker"]


def _numbers(record: dict, prefix: str = "") -> dict[str, float]:
    return {
        f"{prefix}{k}": float(v)
        for k, v in record.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def _flat(config: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)[:500]  # MLflow caps parameter values
    return flat


class MlflowTracker:
    def __init__(self, uri: str, experiment: str, run_name: str, config: dict, artifacts: Path | None = None):
        try:
            import mlflow
        except ImportError as error:
            raise ConfigError("train.tracking = 'mlflow' needs MLflow: pip install 'mlpzoo[tracking]'") from error
        self._mlflow = mlflow
        mlflow.set_tracking_uri(uri)
        if artifacts is not None and mlflow.get_experiment_by_name(experiment) is None:
            # A database store would otherwise put artifacts in ./mlruns of whatever directory we run in.
            mlflow.create_experiment(experiment, artifact_location=artifacts.resolve().as_uri())
        mlflow.set_experiment(experiment)
        self._run = mlflow.start_run(run_name=run_name)
        mlflow.log_params(_flat(config))

    def log_epoch(self, epoch: int, record: dict) -> None:
        self._mlflow.log_metrics(_numbers(record), step=epoch)

    def finish(self, metrics: dict[str, dict[str, float]], run_dir: Path) -> None:
        for split, values in metrics.items():
            self._mlflow.log_metrics(_numbers(values, f"final_{split}_"))
        for name in (RunDir.REPORT, RunDir.CURVE, RunDir.RESULT, RunDir.BEST):
            if (run_dir / name).exists():
                self._mlflow.log_artifact(str(run_dir / name))
        self._mlflow.end_run()

    def abort(self) -> None:
        self._mlflow.end_run(status="KILLED")


class TensorBoardTracker:
    def __init__(self, logdir: str, config: dict):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ConfigError(
                "train.tracking = 'tensorboard' needs TensorBoard: pip install 'mlpzoo[tracking]'"
            ) from error
        self._writer = SummaryWriter(logdir)
        self._writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in _flat(config).items()))

    def log_epoch(self, epoch: int, record: dict) -> None:
        for key, value in _numbers(record).items():
            if key != "epoch":
                self._writer.add_scalar(key, value, epoch)

    def finish(self, metrics: dict[str, dict[str, float]], run_dir: Path) -> None:
        for split, values in metrics.items():
            for key, value in _numbers(values).items():
                self._writer.add_scalar(f"final/{split}_{key}", value)
        self._writer.close()

    def abort(self) -> None:
        self._writer.close()


def make_tracker(kind: str, uri: str | None, run_dir: Path, config: dict):
    """A tracker for ``train.tracking``, or None when it is ``none``."""
    if kind == "none":
        return None
    if kind == "mlflow":
        if uri is None:
            uri, artifacts = (
                f"sqlite:///{(run_dir.parent / 'mlflow.db').resolve()}",
                run_dir.parent / "mlflow-artifacts",
            )
        else:
            artifacts = None
        return MlflowTracker(uri, experiment="mlpzoo", run_name=run_dir.name, config=config, artifacts=artifacts)
    return TensorBoardTracker(uri or str(run_dir / "tensorboard"), config)
