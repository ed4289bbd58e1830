"""``python -m mlpzoo.cli``: the same as the ``mlpzoo`` command."""

from mlpzoo.cli.main import main

main()
