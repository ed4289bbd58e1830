"""MLflow and TensorBoard tracking from the Trainer; nothing of them is imported when tracking is off."""

import subprocess
import sys

import pytest
import torch

from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import ConfigError
from mlpzoo.models.kan import DenseMLP
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer


def _fit(tmp_path, **train):
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    data = ArrayData(x, x.sum(1))
    config = {"epochs": 2, "batch_size": 50, "progress": False, "run_dir": str(tmp_path), "run_name": "r", **train}
    return Trainer(get_task("regression"), DenseMLP(3, 1, (8,)), config).fit(data, data)


def test_tracking_off_imports_neither_library():
    code = (
        "import sys, torch; from mlpzoo.train.trainer import Trainer; import mlpzoo;"
        "print('mlflow' in sys.modules, 'torch.utils.tensorboard' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.slow
def test_mlflow_logs_params_metrics_and_artifacts(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    _fit(tmp_path, tracking="mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["mlpzoo"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_name == "r" and run.info.status == "FINISHED"
    assert run.data.params["train.batch_size"] == "50"
    assert "valid_rmse" in run.data.metrics and "final_valid_rmse" in run.data.metrics
    history = mlflow.tracking.MlflowClient().get_metric_history(run.info.run_id, "valid_rmse")
    assert [m.step for m in history] == [1, 2]
    assert (tmp_path / "mlflow-artifacts").is_dir()  # artifacts beside the runs, not in ./mlruns


def test_tensorboard_writes_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    _fit(tmp_path, tracking="tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    events.Reload()
    assert len(events.Scalars("valid_rmse")) == 2


def test_unknown_tracker_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="train.tracking"):
        _fit(tmp_path, tracking="wandb")
