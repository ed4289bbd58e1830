"""The ``mlpzoo`` click group: every command, and mlpzoo's own errors as one red line."""

from __future__ import annotations

import click

from mlpzoo.cli.bench import bench
from mlpzoo.cli.console import fail
from mlpzoo.cli.export import export
from mlpzoo.cli.papers import papers
from mlpzoo.cli.report import report
from mlpzoo.cli.reproduce import reproduce
from mlpzoo.cli.size import size_command
from mlpzoo.cli.tour import tour
from mlpzoo.cli.train import train
from mlpzoo.cli.tune import tune
from mlpzoo.errors import MlpzooError


class _Group(click.Group):
    """Turns mlpzoo's own errors into one red line instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MlpzooError as err:
            fail(err)


@click.group(cls=_Group)
@click.version_option(package_name="mlpzoo")
def main() -> None:
    """MLP-family models behind one API, and runnable checks of 43 papers' claims."""


for _command in (papers, reproduce, train, tune, export, report, bench, tour, size_command):
    main.add_command(_command)


if __name__ == "__main__":
    main()
