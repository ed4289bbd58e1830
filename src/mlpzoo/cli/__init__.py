"""The ``mlpzoo`` command line, one module per command group.

``main`` (the click group) lives in :mod:`mlpzoo.cli.main`; the console and table rendering every
command shares live in :mod:`mlpzoo.cli.console`. Command modules import only click and the console at
start-up and load torch, pandas and the models inside the command, so ``mlpzoo --help`` starts fast.
"""

from mlpzoo.cli.main import main

__all__ = ["main"]
