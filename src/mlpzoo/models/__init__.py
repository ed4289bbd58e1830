"""Whole models, one module per family. Importing this package registers them all."""

from mlpzoo.models import ctr  # noqa: F401
from mlpzoo.models import kan  # noqa: F401
