"""mlpzoo: MLP-family neural networks behind one API, and honest checks of the papers' claims."""

from mlpzoo.data import FeatureSchema, load_dataset
from mlpzoo.registry import create_model, list_models, register_model
from mlpzoo.tasks import get_task
from mlpzoo.train import TrainConfig, Trainer

__version__ = "0.1.0"
__all__ = ["FeatureSchema", "TrainConfig", "Trainer", "create_model", "get_task", "list_models", "load_dataset", "register_model"]
