"""Whole models, one module per family. Importing this package registers them all."""

from mlpzoo.models import ctr  # noqa: F401
from mlpzoo.models import kan  # noqa: F401
from mlpzoo.models import graph  # noqa: F401
from mlpzoo.models import kat  # noqa: F401
from mlpzoo.models import deep_mlp  # noqa: F401
from mlpzoo.models import transformer  # noqa: F401
from mlpzoo.models import can  # noqa: F401
from mlpzoo.models import sequence  # noqa: F401
from mlpzoo.models import vision  # noqa: F401
from mlpzoo.models import modular  # noqa: F401
from mlpzoo.models import hyper  # noqa: F401
from mlpzoo.models import generative  # noqa: F401
