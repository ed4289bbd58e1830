"""The KAN function-fitting protocol shared by the s-kan and af-kan claims.

The targets are the KAN paper's suite (:mod:`mlpzoo.data.functions`; Liu et al., arXiv:2404.19756,
section 3.1 and Table 2), inputs uniform on ``[-1, 1]^d``, noise-free. Every model gets ``DEPTH``
hidden layers whose width puts its trainable parameter count nearest ``TARGET_PARAMS``, and the same
training: Adam at lr ``LR`` with no decay, MSE loss, early stopping on validation RMSE (best weights
restored), the same points, batch size and epoch cap. Test RMSE is read once, after selection.
"""

from __future__ import annotations

import torch

from mlpzoo.data.functions import FUNCTIONS, function_spec, load_function
from mlpzoo.data.tensors import ArrayData
from mlpzoo.models.kan import build, width_for_parameters
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import FitResult, Trainer

TARGET_PARAMS = 1200
DEPTH = 2
LR = 1e-2
# table label -> (KANNet layer or "mlp", layer arguments). AF-KAN without norm: LayerNorm over a 1- or
# 2-wide input maps it to a constant.
MODELS = {
    "mlp": ("mlp", {}),
    "kan_bspline": ("bspline", {}),
    "kan_rbf": ("rbf", {}),
    "af_kan": ("af", {"functions": ("relu", "silu"), "num_grids": 6, "norm": "none"}),
}
# The suite at each budget: every function, points per split, epoch cap and patience, batch size.
SUITE = {
    "quick": {
        "functions": ("f2", "bessel"),
        "n_train": 500,
        "n_test": 500,
        "epochs": 40,
        "patience": 40,
        "batch_size": 100,
    },
    "full": {
        "functions": tuple(FUNCTIONS),
        "n_train": 2000,
        "n_test": 1000,
        "epochs": 400,
        "patience": 50,
        "batch_size": 256,
    },
}

Splits = tuple[ArrayData, ArrayData, ArrayData]


def splits(function: str, suite: dict, seed: int) -> Splits:
    """Seeded train / validation / test points of ``function`` (``n_train``, ``n_test``, ``n_test``)."""
    return load_function(function, suite["n_train"], suite["n_test"], seed=seed)


def matched_model(kind: str, kwargs: dict, dim: int, seed: int) -> tuple[int, torch.nn.Module]:
    """The ``kind`` network of ``DEPTH`` hidden layers whose width puts it nearest ``TARGET_PARAMS``, seeded."""
    width = width_for_parameters(kind, dim, 1, DEPTH, TARGET_PARAMS, **kwargs)
    torch.manual_seed(seed)
    return width, build(kind, dim, 1, (width,) * DEPTH, **kwargs)


def fit(model: torch.nn.Module, data: Splits, suite: dict, seed: int, epochs: int) -> FitResult:
    """Train ``model`` by the suite's protocol for at most ``epochs`` epochs (no checkpoints, no decay)."""
    config = {
        "epochs": epochs,
        "patience": suite["patience"],
        "batch_size": suite["batch_size"],
        "lr": LR,
        "lr_decay_factor": 1.0,
        "min_delta": 0.0,
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
    }
    train, valid, test = data
    return Trainer(get_task("regression"), model, config).fit(train, valid, test)


def input_dim(function: str) -> int:
    return function_spec(function).dim
