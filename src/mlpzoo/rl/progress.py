"""A rich progress bar for long rollouts: environment steps done, episodes finished per second."""

from __future__ import annotations

import sys
import time


class EpisodeProgress:
    """``with EpisodeProgress(total_steps, "ppo CartPole-v1") as bar: bar.advance(steps, episodes)``.

    Shown only on a terminal (as the Trainer's bar), so logs and tests stay clean.
    """

    def __init__(self, total_steps: int, description: str, enabled: bool = True):
        self.total, self.description = total_steps, description
        self.enabled = enabled and sys.stderr.isatty()
        self.episodes, self.start, self.bar, self.task = 0, 0.0, None, None

    def __enter__(self) -> "EpisodeProgress":
        self.start = time.perf_counter()
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("steps, {task.fields[rate]:.1f} episodes/s"),
                TimeElapsedColumn(),
                transient=True,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.description, total=self.total, rate=0.0)
        return self

    def advance(self, steps: int, episodes: int = 0) -> None:
        self.episodes += episodes
        if self.bar is not None:
            rate = self.episodes / max(time.perf_counter() - self.start, 1e-9)
            self.bar.update(self.task, advance=steps, rate=rate)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
