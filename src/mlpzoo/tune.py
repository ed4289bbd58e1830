"""Hyperparameter search with Optuna: ``mlpzoo tune CONFIG.yaml --trials N [--storage URL]``.

The search space lives in the training YAML, in a ``tune:`` block whose dotted keys name the
``model`` or ``train`` value they vary, next to a few plain settings::

    tune:
      train.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      train.batch_size: {type: int, low: 64, high: 512, step: 64}
      model.hidden_units: {type: categorical, choices: [[64], [128, 64]]}
      pruner: median          # median (default), hyperband or none
      sampler: tpe            # tpe (default) or random
      seed: 0                 # sampler seed (default: none; give each worker its own)
      startup_trials: 5       # trials before TPE models the space and the median pruner may prune
      warmup_epochs: 0        # epochs of every trial that are never pruned

Every trial is a normal ``mlpzoo train`` run in ``<train.run_dir>/tune/<study>/trial-NNNN``. The
Trainer reports the validation metric it monitors after each epoch; the pruner stops trials that
fall behind, and the study's direction follows the metric's mode (maximise AUC, minimise
logloss). Storage is SQLite (``<train.run_dir>/tune/optuna.db``) unless ``--storage`` names a
journal file (``journal:///path/study.log``, safe for many processes on shared disks) or an RDB
URL (``postgresql://...``); workers started anywhere with the same storage and study name share
one search. ``--workers K`` starts K processes here (not threads: the Trainer seeds global RNGs).
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import os
import socket
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

import yaml

from mlpzoo.config import build_config
from mlpzoo.errors import ConfigError, MlpzooError
from mlpzoo.train.config import TrainConfig
from mlpzoo.train.rundir import confined_name

SETTINGS = {"pruner": "median", "sampler": "tpe", "seed": None, "startup_trials": 5, "warmup_epochs": 0}
PRUNERS = ("median", "hyperband", "none")
SAMPLERS = ("tpe", "random")
DIMENSION_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
# Keys the tuner itself sets on every trial (or that would change what the study optimises).
FIXED_TRAIN_KEYS = {
    "run_dir",
    "run_name",
    "resume",
    "monitor",
    "monitor_mode",
    "save_checkpoints",
    "progress",
    "tracking_uri",
}
TOP_TRIALS = 5


@dataclass(frozen=True)
class Dimension:
    """One searched value: ``key`` is ``section.field``; ``kind`` is float, int or categorical."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    @property
    def encoded(self) -> bool:
        # Optuna stores only scalar choices; lists (layer widths) travel as JSON strings.
        return any(not (c is None or isinstance(c, (bool, int, float, str))) for c in self.choices)

    def suggest(self, trial) -> Any:
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self.encoded:
            return json.loads(trial.suggest_categorical(self.key, [json.dumps(c) for c in self.choices]))
        return trial.suggest_categorical(self.key, list(self.choices))

    def decode(self, stored: Any) -> Any:
        """A value as Optuna stored it -> the value the config gets."""
        return json.loads(stored) if self.kind == "categorical" and self.encoded else stored


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]
    pruner: str = "median"
    sampler: str = "tpe"
    seed: int | None = None
    startup_trials: int = 5
    warmup_epochs: int = 0

    def make_sampler(self):
        import optuna

        if self.sampler == "random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.startup_trials)

    def make_pruner(self):
        import optuna

        if self.pruner == "none":
            return optuna.pruners.NopPruner()
        if self.pruner == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=max(1, self.warmup_epochs))
        return optuna.pruners.MedianPruner(n_startup_trials=self.startup_trials, n_warmup_steps=self.warmup_epochs)


def parse_search_space(block: Any, model_name: str | None = None, where: str = "tune") -> SearchSpace:
    """Check a ``tune:`` block and build the space; every mistake is a one-line ConfigError naming the key."""
    if not isinstance(block, dict) or not block:
        raise ConfigError(
            f"{where}: add a mapping of search dimensions, e.g. train.lr: {{type: float, low: 1.0e-4, high: 1.0e-2, "
            f"log: true}}"
        )
    settings = {k: v for k, v in block.items() if "." not in str(k)}
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(map(str, unknown))}; settings are {', '.join(SETTINGS)}, "
            "and search dimensions are dotted keys such as train.lr or model.hidden_units"
        )
    merged = {**SETTINGS, **settings}
    if merged["pruner"] not in PRUNERS:
        raise ConfigError(f"{where}.pruner = {merged['pruner']!r}; use one of {', '.join(PRUNERS)}")
    if merged["sampler"] not in SAMPLERS:
        raise ConfigError(f"{where}.sampler = {merged['sampler']!r}; use one of {', '.join(SAMPLERS)}")
    for name in ("startup_trials", "warmup_epochs"):
        if not isinstance(merged[name], int) or isinstance(merged[name], bool) or merged[name] < 0:
            raise ConfigError(f"{where}.{name} = {merged[name]!r}; use a whole number >= 0")
    seed = merged["seed"]
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32):
        raise ConfigError(f"{where}.seed = {seed!r}; use a whole number from 0 to 2**32 - 1, or leave it out")
    dimensions = tuple(_dimension(str(key), spec, model_name, where) for key, spec in block.items() if "." in str(key))
    if not dimensions:
        raise ConfigError(
            f"{where}: no search dimension; add dotted keys such as train.lr: {{type: float, low: 1.0e-4, high: "
            f"1.0e-2, log: true}}"
        )
    return SearchSpace(dimensions, **merged)


def _dimension(key: str, spec: Any, model_name: str | None, where: str) -> Dimension:
    here = f"{where}.{key}"
    section, _, field = key.partition(".")
    if section not in ("model", "train") or not field or "." in field:
        raise ConfigError(f"{here}: search model.* or train.* values (e.g. train.lr, model.hidden_units)")
    if section == "train":
        names = {f.name for f in fields(TrainConfig)}
        if field not in names:
            raise ConfigError(
                f"{here}: TrainConfig has no field {field!r}; valid fields are "
                f"{', '.join(sorted(names - FIXED_TRAIN_KEYS))}"
            )
        if field in FIXED_TRAIN_KEYS:
            raise ConfigError(
                f"{here}: train.{field} is set by the tuner or fixes what it optimises; set it in the train section "
                "instead"
            )
    elif field == "name":
        raise ConfigError(f"{here}: the model is fixed within a study; run one study per model")
    elif model_name is not None:
        _check_model_argument(model_name, field, here)
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{here}: expected a mapping such as {{type: float, low: 1.0e-4, high: 1.0e-2}}, got {spec!r}"
        )
    kind = spec.get("type")
    if kind not in DIMENSION_KEYS:
        raise ConfigError(f"{here}.type = {kind!r}; use float, int or categorical")
    extra = sorted(set(spec) - DIMENSION_KEYS[kind])
    if extra:
        raise ConfigError(
            f"{here}: unknown key(s) {', '.join(map(str, extra))} for type {kind}; valid keys are "
            f"{', '.join(sorted(DIMENSION_KEYS[kind]))}"
        )
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{here}.choices: give a non-empty list, e.g. choices: [[64], [128, 64]]")
        return Dimension(key, kind, choices=tuple(choices))
    number = int if kind == "int" else (int, float)
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, number) or isinstance(value, bool) or not math.isfinite(value):
            raise ConfigError(f"{here}.{name} = {value!r}; give a finite {'whole ' if kind == 'int' else ''}number")
    if not low < high:
        raise ConfigError(f"{here}: low ({low}) must be below high ({high})")
    if not isinstance(log, bool):
        raise ConfigError(f"{here}.log = {log!r}; use true or false")
    if log and low <= 0:
        raise ConfigError(f"{here}: a log scale needs low > 0, got low = {low}")
    if step is not None:
        if not isinstance(step, number) or isinstance(step, bool) or step <= 0:
            raise ConfigError(
                f"{here}.step = {step!r}; give a positive {'whole ' if kind == 'int' else ''}number or leave it out"
            )
        if log:
            raise ConfigError(f"{here}: step and log cannot be combined; drop one")
    return Dimension(
        key, kind, float(low) if kind == "float" else low, float(high) if kind == "float" else high, log, step
    )


def _check_model_argument(model_name: str, field: str, here: str) -> None:
    from mlpzoo.registry import model_entry

    params = inspect.signature(model_entry(model_name).builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    if field not in params or field == "schema":
        valid = [p for p in params if p not in ("self", "schema")]
        raise ConfigError(
            f"{here}: model {model_name!r} has no argument {field!r}; valid arguments are {', '.join(valid)}"
        )


def apply_params(spec: dict, params: dict[str, Any]) -> dict:
    """A deep copy of ``spec`` with ``{"section.field": value}`` written in and the tune block removed."""
    out = copy.deepcopy({k: v for k, v in spec.items() if k != "tune"})
    for key, value in params.items():
        section, _, field = key.partition(".")
        out.setdefault(section, {})[field] = value
    return out


def monitored_metric(spec: dict) -> tuple[str, str]:
    """The metric the Trainer monitors for this config, and its mode (max or min)."""
    from mlpzoo.tasks import get_task

    train = build_config(TrainConfig, spec.get("train"), "train")
    task = get_task(spec.get("task", "binary_ctr"))
    monitor = train.monitor or task.default_monitor
    if monitor not in task.monitor_modes:
        raise ConfigError(
            f"train.monitor = {monitor!r} is not a metric of task {task.name}; use one of "
            f"{', '.join(task.monitor_modes)}"
        )
    return monitor, train.monitor_mode or task.monitor_modes[monitor]


def pruning_callback(trial, monitor: str) -> Callable[[int, dict], None]:
    """A Trainer callback that reports ``valid_<monitor>`` each epoch and stops the trial when the pruner says so."""
    import optuna

    def report(epoch: int, record: dict) -> None:
        value = record[f"valid_{monitor}"]
        trial.report(value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"valid {monitor} {value:.6g} at epoch {epoch} is behind the other trials")

    return report


def tune_root(spec: dict) -> Path:
    train = spec.get("train") or {}
    return Path((train.get("run_dir") if isinstance(train, dict) else None) or "runs") / "tune"


def open_storage(url: str | None, root: Path):
    """An Optuna storage: SQLite under ``root`` by default, ``journal:///FILE`` or any RDB URL."""
    import optuna

    if url is None:
        root.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{root / 'optuna.db'}"
    if url.startswith("journal://"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url[len("journal://") :])
        if not str(path) or str(path) == ".":
            raise ConfigError(f"--storage {url!r}: name the journal file, e.g. journal:///shared/disk/study.log")
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise ConfigError(
            f"--storage {url!r}: use sqlite:///FILE.db, journal:///FILE.log or a database URL such as "
            "postgresql://user@host/db"
        )
    engine = {}
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = {"connect_args": {"timeout": 60}}  # several local workers wait for the file lock instead of failing
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except ImportError as err:
        raise ConfigError(
            f"--storage {url!r}: the database driver is missing ({err}); install it or use sqlite:/// or journal:///"
        ) from err


def _trial_runner(spec: dict, source: str, space: SearchSpace, monitor: str, study_dir: Path):
    from mlpzoo.train.from_config import run_config

    def objective(trial) -> float:
        params = {d.key: d.suggest(trial) for d in space.dimensions}
        trial_spec = apply_params(spec, params)
        run_name = f"trial-{trial.number:04d}"
        trial_spec.setdefault("train", {}).update(
            run_dir=str(study_dir), run_name=run_name, resume=False, progress=False
        )
        trial.set_user_attr("run_dir", str(study_dir / run_name))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        result = run_config(trial_spec, source=source, callbacks=[pruning_callback(trial, monitor)])
        trial.set_user_attr("epochs", result.epochs_run)
        return result.metrics["valid"][monitor]

    return objective


def run_worker(spec: dict, source: str, storage: str | None, study_name: str, trials: int) -> None:
    """One worker: run ``trials`` trials of the study (which must exist) in this process."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = parse_search_space(spec.get("tune"), (spec.get("model") or {}).get("name"))
    monitor, _ = monitored_metric(spec)
    root = tune_root(spec)
    confined_name(study_name, "--study")
    opened = open_storage(storage, root)
    study = optuna.load_study(
        study_name=study_name, storage=opened, sampler=space.make_sampler(), pruner=space.make_pruner()
    )
    fail_orphaned_trials(study, opened)
    study.optimize(_trial_runner(spec, source, space, monitor, root / study_name), n_trials=trials)


@dataclass
class TuneResult:
    study: str
    storage: str
    direction: str
    monitor: str
    counts: dict[str, int]
    top: list[dict]
    best_params: dict[str, Any] | None
    best_params_path: Path | None
    best_config_path: Path | None


def tune(
    spec: dict,
    source: str,
    trials: int,
    storage: str | None = None,
    study_name: str | None = None,
    workers: int = 1,
    start_method: str = "spawn",
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Create (or join) the study, run ``trials`` trials in each of ``workers`` processes, summarise it.

    ``start_method`` is the multiprocessing start method for ``workers > 1`` (``fork`` starts faster
    on Linux; ``spawn`` is safe everywhere).
    """
    import optuna

    if trials < 1 or workers < 1:
        raise ConfigError(f"--trials {trials} and --workers {workers} must both be at least 1")
    model_name = (spec.get("model") or {}).get("name")
    space = parse_search_space(spec.get("tune"), model_name)
    monitor, mode = monitored_metric(spec)
    study_name = confined_name(study_name or Path(source).stem, "--study")
    root = tune_root(spec)
    direction = "maximize" if mode == "max" else "minimize"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opened = open_storage(storage, root)
    study = optuna.create_study(study_name=study_name, storage=opened, direction=direction, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"study {study_name!r} in {storage or root / 'optuna.db'} was created to {study.direction.name.lower()}, "
            f"but valid {monitor} is to {direction}; choose another --study name"
        )
    orphans = fail_orphaned_trials(study, opened)
    if orphans:
        log(
            f"marked trial(s) {', '.join(map(str, orphans))} of study {study_name} as failed: their worker process "
            "is gone"
        )
    log(
        f"study {study_name}: {trials} trial(s) x {workers} worker(s), {direction} valid {monitor}; trials in "
        f"{root / study_name}"
    )
    if workers == 1:
        run_worker(spec, source, storage, study_name, trials)
    else:
        _run_processes(workers, start_method, (spec, source, storage, study_name, trials))
    return summarise(study_name, storage, spec, space, monitor)


def fail_orphaned_trials(study, storage) -> list[int]:
    """Mark as failed the running trials whose worker process on this machine is gone (killed, crashed).

    Optuna leaves such a trial RUNNING for ever; failing it lets the study go on and the summary count it.
    A worker on another machine cannot be checked from here and is left alone.
    """
    from optuna.trial import TrialState

    here = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if host == here and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            failed.append(trial.number)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_processes(workers: int, start_method: str, args: tuple) -> None:
    import multiprocessing

    context = multiprocessing.get_context(start_method)
    processes = [context.Process(target=run_worker, args=args, name=f"mlpzoo-tune-{i}") for i in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [f"{p.name} (exit code {p.exitcode})" for p in processes if p.exitcode != 0]
    if failed:
        raise MlpzooError(f"tuning worker(s) {', '.join(failed)} failed; their error is printed above")


def summarise(study_name: str, storage: str | None, spec: dict, space: SearchSpace, monitor: str) -> TuneResult:
    """Counts by state, the best trials, and best_params.yaml / best_config.yaml beside the trials."""
    import optuna
    from optuna.trial import TrialState

    root = tune_root(spec)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage, root))
    all_trials = study.get_trials(deepcopy=False)
    counts = {
        state.name.lower(): sum(t.state == state for t in all_trials)
        for state in TrialState
        if any(t.state == state for t in all_trials)
    }
    done = sorted(
        (t for t in all_trials if t.state == TrialState.COMPLETE),
        key=lambda t: t.value,
        reverse=study.direction.name == "MAXIMIZE",
    )
    decode = {d.key: d.decode for d in space.dimensions}
    top = [
        {
            "trial": t.number,
            f"valid_{monitor}": t.value,
            **{k: _show(decode.get(k, lambda v: v)(v)) for k, v in t.params.items()},
            "epochs": t.user_attrs.get("epochs", ""),
            "run_dir": t.user_attrs.get("run_dir", ""),
        }
        for t in done[:TOP_TRIALS]
    ]
    best_params = params_path = config_path = None
    if done:
        best = done[0]
        best_params = {k: decode.get(k, lambda v: v)(v) for k, v in best.params.items()}
        folder = root / study_name
        folder.mkdir(parents=True, exist_ok=True)
        params_path, config_path = folder / "best_params.yaml", folder / "best_config.yaml"
        summary = {
            "study": study_name,
            "trial": best.number,
            "value": best.value,
            "metric": f"valid_{monitor}",
            "direction": study.direction.name.lower(),
            "run_dir": best.user_attrs.get("run_dir"),
            "params": best_params,
        }
        params_path.write_text(yaml.safe_dump(summary, sort_keys=False))
        config_path.write_text(
            f"# best trial {best.number} of study {study_name}: valid {monitor} {best.value:.6g}\n"
            + yaml.safe_dump(apply_params(spec, best_params), sort_keys=False)
        )
    return TuneResult(
        study_name,
        storage or f"sqlite:///{root / 'optuna.db'}",
        study.direction.name.lower(),
        monitor,
        counts,
        top,
        best_params,
        params_path,
        config_path,
    )


def _show(value: Any) -> Any:
    """A parameter as the table shows it (four significant digits keep 1e-5 from printing as 0.0000)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else value


__all__ = [
    "Dimension",
    "SearchSpace",
    "TuneResult",
    "apply_params",
    "monitored_metric",
    "open_storage",
    "parse_search_space",
    "fail_orphaned_trials",
    "pruning_callback",
    "run_worker",
    "summarise",
    "tune",
]
