"""Tasks say what success means: the batch contract, the loss and the metrics."""

from mlpzoo.errors import ConfigError
from mlpzoo.tasks.ctr import BinaryCTR
from mlpzoo.tasks.supervised import Classification, Regression

TASKS = {"binary_ctr": BinaryCTR, "regression": Regression, "classification": Classification}


def get_task(name: str):
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]()
