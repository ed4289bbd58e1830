"""Training: the one Trainer, its configuration and checkpoints."""

from mlpzoo.train.config import TrainConfig
from mlpzoo.train.trainer import FitResult, Trainer, seed_everything

__all__ = ["FitResult", "TrainConfig", "Trainer", "seed_everything"]
