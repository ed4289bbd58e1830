"""The ``mlpzoo`` click group: every command, and mlpzoo's own errors as one red line."""

from __future__ import annotations

import os
import signal
import sys
import threading

import click

from mlpzoo.cli.bench import bench
from mlpzoo.cli.console import console, fail
from mlpzoo.cli.export import export
from mlpzoo.cli.papers import papers
from mlpzoo.cli.report import report
from mlpzoo.cli.reproduce import reproduce
from mlpzoo.cli.size import size_command
from mlpzoo.cli.tour import tour
from mlpzoo.cli.train import train
from mlpzoo.cli.tune import tune
from mlpzoo.errors import MlpzooError


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like SIGINT so that runs unwind the same way (locks released, trackers closed)."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


class _Group(click.Group):
    """Turns mlpzoo's own errors into one red line instead of a traceback; SIGTERM and SIGINT end with one line too."""

    def invoke(self, ctx):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return super().invoke(ctx)
        except MlpzooError as err:
            fail(err)
        except KeyboardInterrupt as err:
            name = "SIGTERM" if isinstance(err, _Terminated) else "SIGINT"
            console.print(
                f"[bold red]interrupted by {name}:[/] stopped; rerun the same command to resume a training "
                "run from its last checkpoint",
                highlight=False,
                soft_wrap=True,
            )
            sys.exit(143 if name == "SIGTERM" else 130)


@click.group(cls=_Group)
@click.version_option(package_name="mlpzoo")
def main() -> None:
    """MLP-family models behind one API, and runnable checks of the catalogued papers' claims."""
    # OpenMP threads that spin while a peer waits for a core burn 4-5x the CPU and train 4-7x slower
    # whenever other processes share the cores (measured: FinalMLP on Frappe, 2 threads on a busy
    # 2-core machine, 38-56 s an epoch spinning, 8.5 s sleeping). Torch is not loaded yet, so OpenMP
    # still reads this; a value the user set wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


for _command in (papers, reproduce, train, tune, export, report, bench, tour, size_command):
    main.add_command(_command)


if __name__ == "__main__":
    main()
