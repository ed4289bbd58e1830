"""mlpzoo: MLP-family neural networks behind one API, and honest checks of the papers' claims.

The public names load on first use (PEP 562), so ``import mlpzoo`` and the ``mlpzoo`` command start
without importing torch; ``mlpzoo.create_model`` and the rest work as plain attributes.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names below load on first use
    from mlpzoo.data import FeatureSchema, load_dataset
    from mlpzoo.registry import create_model, list_models, register_model
    from mlpzoo.tasks import get_task
    from mlpzoo.train import TrainConfig, Trainer

__version__ = "0.1.0"

_PUBLIC = {
    "FeatureSchema": "mlpzoo.data",
    "load_dataset": "mlpzoo.data",
    "create_model": "mlpzoo.registry",
    "list_models": "mlpzoo.registry",
    "register_model": "mlpzoo.registry",
    "get_task": "mlpzoo.tasks",
    "TrainConfig": "mlpzoo.train",
    "Trainer": "mlpzoo.train",
}
__all__ = [
    "FeatureSchema",
    "TrainConfig",
    "Trainer",
    "create_model",
    "get_task",
    "list_models",
    "load_dataset",
    "register_model",
]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if importlib.util.find_spec(f"mlpzoo.{name}") is not None:  # `import mlpzoo; mlpzoo.claims...` as before
        return importlib.import_module(f"mlpzoo.{name}")
    raise AttributeError(f"module 'mlpzoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
