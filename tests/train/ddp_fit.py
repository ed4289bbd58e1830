"""A small regression fit, run once per process; used by test_distributed.py (under torchrun or not).

Writes the final weights and metrics of the run to ``<out>/result-<rank>.pt``.
"""

import os
import sys

import torch

from mlpzoo.data.tensors import ArrayData
from mlpzoo.models.kan import DenseMLP
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer


def main(out: str) -> None:
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1030, 6, generator=generator)
    y = torch.sin(x[:, :3].sum(1)) + 0.1 * torch.randn(1030, generator=generator)
    # 901 rows = 7 batches of 128 and one of 5, which splits 3 + 2 over two ranks (weighted shards).
    train, valid = ArrayData(x[:901], y[:901]), ArrayData(x[901:], y[901:])
    torch.manual_seed(1)
    model = DenseMLP(6, 1, (32, 32))
    config = {
        "epochs": 3,
        "batch_size": 128,
        "lr": 3e-3,
        "seed": 7,
        "progress": False,
        "run_dir": out,
        "run_name": "ddp",
        "resume": False,
        "lr_decay_factor": 1.0,
    }
    result = Trainer(get_task("regression"), model, config).fit(train, valid)
    rank = int(os.environ.get("RANK", "0"))
    torch.save(
        {"state": model.state_dict(), "metrics": result.metrics, "history": result.history},
        os.path.join(out, f"result-{rank}.pt"),
    )


if __name__ == "__main__":
    main(sys.argv[1])
