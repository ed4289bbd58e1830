"""A fit with checkpoints, for test_kill_resume.py: ``kill_fit.py RUN_DIR NAME`` saves final weights."""

import sys

import torch

from mlpzoo.data.tensors import ArrayData
from mlpzoo.models.kan import DenseMLP
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer


def main(run_dir: str, name: str) -> None:
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6000, 16, generator=generator)
    y = (x[:, :4].sum(1) > 0).long()
    train, valid = ArrayData(x[:5000], y[:5000]), ArrayData(x[5000:], y[5000:])
    torch.manual_seed(3)
    model = DenseMLP(16, 2, (64, 64), dropout=0.1)  # dropout: the RNG state must survive the restart too
    config = {
        "epochs": 8,
        "batch_size": 64,
        "lr": 1e-3,
        "seed": 5,
        "patience": 8,
        "progress": False,
        "run_dir": run_dir,
        "run_name": name,
    }
    result = Trainer(get_task("classification"), model, config).fit(train, valid)
    torch.save({"state": model.state_dict(), "metrics": result.metrics}, f"{run_dir}/{name}-final.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
