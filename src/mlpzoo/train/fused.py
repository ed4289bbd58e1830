"""Compiled KAN kernels switched on by the Trainer where they pay (``train.fused: auto``).

The KAN layers with a ``fused`` switch (:class:`~mlpzoo.layers.kan.BSplineKANLinear`,
:class:`~mlpzoo.layers.kan.rational.GroupRational` and the layers built on it) have ``torch.compile``
kernels (:mod:`mlpzoo.layers.kan.fused`) that make a step faster but cost a compilation first. The
rule (:func:`decide`), measured per model and machine rather than guessed:

- a run whose estimated eager time, ``steps left x eager step time``, is under
  ``MIN_RUN_SECONDS`` never compiles (quick budgets, tests and short fits stay eager);
- otherwise, with timings of this model cached from an earlier run (``eager step, fused step,
  compile seconds``), compile iff ``steps left x saving per step > compile seconds``, the saving
  scaled to this run's measured eager step;
- with no timings cached, measure once: time eager steps, switch to the compiled kernels, time
  the compiling step and the compiled steps, cache the three numbers, and keep whichever step is
  faster (the compilation is paid by then).

The timings are cached in ``~/.cache/mlpzoo/fused_timings.json`` (``$MLPZOO_CACHE`` or
``$XDG_CACHE_HOME/mlpzoo``), keyed by the model's class, its fusable layers' shapes, the batch
size, the thread count, the device and the torch version; inductor's compiled kernels go to
``~/.cache/mlpzoo/inductor`` (``TORCHINDUCTOR_CACHE_DIR`` unless set), so later runs load them
instead of compiling. Steps are estimated as ``epochs x batches per epoch``: an upper bound under
early stopping.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from mlpzoo.layers.native import cache_root, use_inductor_cache
from mlpzoo.train.rundir import atomic_write_text, digest

MIN_RUN_SECONDS = 120.0  # eager runs shorter than this never compile (a compile takes 5-60 s on CPU)
TIMED_STEPS = 3  # steps timed per phase, after one warm-up step
_CACHE_FILE = "fused_timings.json"


@dataclass(frozen=True)
class FusedTimings:
    """Measured seconds per training step, eager and compiled, and of the compiling step's extra time."""

    eager_step_s: float
    fused_step_s: float
    compile_s: float


def fusable_layers(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` with a compiled-kernel switch (KAN layers)."""
    from mlpzoo.layers.kan import BSplineKANLinear
    from mlpzoo.layers.kan.rational import GroupRational

    return [m for m in model.modules() if isinstance(m, (BSplineKANLinear, GroupRational))]


def decide(
    steps_left: int, eager_step_s: float, timings: FusedTimings | None, min_run_s: float = MIN_RUN_SECONDS
) -> str:
    """``"eager"``, ``"fused"`` or ``"measure"`` for a run with ``steps_left`` steps (see the module doc)."""
    if steps_left * eager_step_s < min_run_s:
        return "eager"
    if timings is None:
        return "measure"
    saving = eager_step_s * (1.0 - timings.fused_step_s / timings.eager_step_s)
    return "fused" if steps_left * saving > timings.compile_s else "eager"


def timings_key(model: nn.Module, batch_size: int, device: torch.device) -> str:
    layers = []
    for m in fusable_layers(model):
        shapes = [tuple(p.shape) for p in m.parameters(recurse=False)]
        layers.append([type(m).__name__, shapes])
    return digest([type(model).__name__, layers, batch_size, torch.get_num_threads(), str(device), torch.__version__])


def load_timings(key: str, path: Path | None = None) -> FusedTimings | None:
    path = path or cache_root() / _CACHE_FILE
    try:
        entry = json.loads(path.read_text()).get(key)
        return FusedTimings(**entry) if entry else None
    except (OSError, ValueError, TypeError):
        return None  # no cache yet, or one from another version: measure again


def save_timings(key: str, timings: FusedTimings, path: Path | None = None) -> None:
    path = path or cache_root() / _CACHE_FILE
    try:
        table = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        table = {}
    table[key] = asdict(timings)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(table, indent=1, sort_keys=True))


class FusedAuto:
    """The Trainer's per-fit state for ``train.fused``: call :meth:`after_step` after every step.

    ``mode`` ``False`` leaves the layers as built; ``True`` compiles from the first step; ``"auto"``
    follows :func:`decide`. :meth:`restore` puts every layer's own setting back after the fit.
    """

    def __init__(self, model: nn.Module, mode, batch_size: int, device: torch.device, cache: Path | None = None):
        self.layers = fusable_layers(model) if mode is not False else []
        self.original = [m.fused for m in self.layers]
        self.key = timings_key(model, batch_size, device) if self.layers else ""
        self.cache = cache
        self.phase = "done" if not self.layers else ("warmup" if mode == "auto" else "fused")
        self.eager_times: list[float] = []
        self.fused_times: list[float] = []
        self.compile_step_s = 0.0
        self.decision = "eager" if not self.layers else ("fused" if mode is True else "pending")
        if mode is True:
            self._switch(True)

    @property
    def active(self) -> bool:
        return self.phase not in ("done", "fused")

    def _switch(self, on: bool) -> None:
        if on:
            use_inductor_cache()
        for m, original in zip(self.layers, self.original):
            m.fused = "auto" if on else original

    def after_step(self, step_s: float, steps_left: int) -> None:
        """Advance the measurement with one step's seconds; ``steps_left`` after this one."""
        if self.phase == "warmup":  # the first step pays one-time costs (allocation, kernel builds)
            self.phase = "eager"
        elif self.phase == "eager":
            self.eager_times.append(step_s)
            if len(self.eager_times) == TIMED_STEPS:
                self._decide(steps_left)
        elif self.phase == "compile":
            self.compile_step_s = step_s
            self.phase = "measure"
        elif self.phase == "measure":
            self.fused_times.append(step_s)
            if len(self.fused_times) == TIMED_STEPS:
                self._measured()

    def _decide(self, steps_left: int) -> None:
        eager = statistics.median(self.eager_times)
        self.decision = decide(steps_left, eager, load_timings(self.key, self.cache))
        if self.decision == "measure":
            self._switch(True)
            self.phase = "compile"
            return
        self._switch(self.decision == "fused")
        self.phase = "done"

    def _measured(self) -> None:
        eager, fused = statistics.median(self.eager_times), statistics.median(self.fused_times)
        save_timings(self.key, FusedTimings(eager, fused, max(0.0, self.compile_step_s - fused)), self.cache)
        self.decision = "fused" if fused < eager else "eager"  # the compilation is paid: keep the faster
        self._switch(self.decision == "fused")
        self.phase = "done"

    def restore(self) -> None:
        for m, original in zip(self.layers, self.original):
            m.fused = original
