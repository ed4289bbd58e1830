"""The one Trainer: fit any mlpzoo model on any task, with early stopping, checkpoints and resume.

Protocol (FuxiCTR's, which the CTR papers used): Adam; evaluate on the validation set after every
epoch; when the monitored metric fails to improve, multiply the learning rate by 0.1 and count a
bad epoch; stop after ``patience`` bad epochs; restore the best weights. Every epoch ends with an
atomic checkpoint holding everything needed to continue bit-for-bit (weights, optimizer, RNG
state, early-stopping state, history); shuffling is a function of (seed, epoch), so a resumed run
gives the same result as an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from mlpzoo.config import build_config
from mlpzoo.errors import ConfigError, TrainingError
from mlpzoo.measure import count_parameters
from mlpzoo.train.allocator import reuse_freed_memory
from mlpzoo.train.checkpoint import load_checkpoint, save_checkpoint
from mlpzoo.train.checks import check_labels, check_takes_steps
from mlpzoo.train.config import TrainConfig
from mlpzoo.train.distributed import distributed_context, shard_batch
from mlpzoo.train.fused import FusedAuto
from mlpzoo.train.init import initialise
from mlpzoo.train.report import write_report
from mlpzoo.train.rundir import RunDir, data_digest, digest, file_digest
from mlpzoo.train.tracking import make_tracker

# Settings that may change between an interrupted run and its resumption.
_RESUMABLE_KEYS = {
    "epochs",
    "fused",
    "progress",
    "resume",
    "init",
    "num_threads",
    "run_dir",
    "eval_batch_size",
    "device",
    "tracking",
    "tracking_uri",
}
# Where the data lives may change (a copied config, another working directory); its content is fingerprinted instead.
_PATH_KEYS = {"train", "valid", "test", "data_dir"}
_ROLES = {"train": "training", "valid": "validation"}


@dataclass
class FitResult:
    """What a fit returns: final metrics per split, the history, and where the run lives."""

    metrics: dict[str, dict[str, float]]
    history: list[dict]
    best_epoch: int
    epochs_run: int
    train_seconds: float
    train_samples_per_second: float
    run_dir: Path | None
    resumed_from_epoch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


class Trainer:
    """Fits ``model`` on ``task``.

    Args:
        task: a task object (``loss``, ``predict``, ``evaluate``, ``default_monitor``), e.g. ``BinaryCTR()``.
        model: an ``nn.Module`` mapping a batch to outputs; an optional
            ``regularization_loss(batch)`` method is added to the loss.
        config: a :class:`TrainConfig` or a dict of its fields.
        run_config: the full resolved configuration to store in the run directory (data, model...).
        schema: the fitted feature schema (CTR data); written to ``schema.json`` and part of the fingerprint.
        data_files: ``{"train": path, ...}``, the files the data came from; their content is part of the
            fingerprint, so a changed file refuses to resume with an error naming it.
    """

    def __init__(
        self,
        task,
        model: nn.Module,
        config: TrainConfig | dict | None = None,
        run_config: dict | None = None,
        schema=None,
        data_files: dict[str, str | Path] | None = None,
    ):
        self.task = task
        self.model = model
        self.config = config if isinstance(config, TrainConfig) else build_config(TrainConfig, config, "train")
        self.monitor = self.config.monitor or task.default_monitor
        if self.monitor not in task.monitor_modes:
            raise ConfigError(
                f"train.monitor = {self.monitor!r} is not a metric of task {task.name}; use one of "
                f"{', '.join(task.monitor_modes)}"
            )
        self.mode = self.config.monitor_mode or task.monitor_modes[self.monitor]
        self.run_config = run_config or {}
        self.schema = schema
        self.data_files = dict(data_files or {})
        self.device = _resolve_device(self.config.device)
        self.model.to(self.device)
        self.dist = None  # set by fit() under torchrun
        self._last_lr = self.config.lr  # the rate of the last epoch, for a divergence message
        self._fused = FusedAuto(model, False, self.config.batch_size, self.device)  # fit() sets train.fused

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _predict_batches(self, data) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Predictions with the batches' labels and groups, in one pass over the data."""
        self.model.eval()
        outputs, labels, groups = [], [], []
        for batch in data.iter_batches(self.config.eval_batch_size):
            outputs.append(self.task.predict(self.model(_to_device(batch, self.device))).cpu())
            if "label" in batch:
                labels.append(batch["label"])
            if "group" in batch:
                groups.append(batch["group"])
        predictions = torch.cat(outputs).numpy() if outputs else np.zeros(0, np.float32)
        return (
            predictions,
            torch.cat(labels).numpy() if labels else None,
            torch.cat(groups).numpy() if groups else None,
        )

    def predict(self, data) -> np.ndarray:
        return self._predict_batches(data)[0]

    def evaluate(self, data, epoch: int | None = None) -> dict[str, float]:
        predictions, labels, groups = self._predict_batches(data)
        if labels is None:
            raise ConfigError("evaluate() needs data with labels; use predict() for unlabelled data")
        if np.issubdtype(predictions.dtype, np.floating) and not np.isfinite(predictions).all():
            bad = int((~np.isfinite(predictions)).sum())
            when = f" after epoch {epoch} (lr {self._last_lr:.3g})" if epoch is not None else ""
            raise TrainingError(
                f"training diverged: {bad} of {predictions.size} predictions are NaN or infinite"
                f"{when}; the last good checkpoint is kept; lower train.lr or set "
                "train.grad_clip_norm, then rerun"
            )
        return self.task.evaluate(labels, predictions, groups)

    # ------------------------------------------------------------------ training
    def fit(self, train, valid, test=None, callbacks: Iterable[Callable[[int, dict], None]] = ()) -> FitResult:
        """Train on ``train``, select on ``valid``, report ``valid`` and ``test`` with the best weights.

        ``callbacks`` are called as ``fn(epoch, record)`` after each epoch's checkpoint is written.
        """
        cfg = self.config
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        # Tiny embedding gradients and Adam moments underflow into denormals, which run ~6x
        # slower on x86 CPUs (seen: 8 s epochs instead of 1.3 s); flushing them to zero is harmless.
        torch.set_flush_denormal(True)
        if self.device.type == "cpu":
            reuse_freed_memory()  # each step's activations reuse freed heap, not fresh pages (allocator.py)
        seed_everything(cfg.seed, cfg.deterministic)
        self.dist = distributed_context(self.device)
        if self.dist is not None and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            self.model.to(self.device)
        check_takes_steps(train, cfg.batch_size, self.dist.world_size if self.dist is not None else 1)
        for split, data in (("train", train), ("valid", valid)):
            check_labels(self.task.name, data, split)
        run = self._open_run(train, valid, test)
        self._fused = FusedAuto(self.model, cfg.fused, cfg.batch_size, self.device)
        try:
            return self._fit(run, train, valid, test, callbacks)
        finally:
            self._fused.restore()
            if run is not None:
                run.release()

    def _fit(self, run: RunDir | None, train, valid, test, callbacks) -> FitResult:
        cfg = self.config
        if self.dist is not None:
            self.dist.barrier()  # rank 0 has checked, made (or cleaned) the run directory
        resuming = run is not None and cfg.resume and run.last.exists()
        if not resuming and cfg.init == "seed":
            initialise(self.model, cfg.seed)
        optimizer = self._make_optimizer()
        state = {
            "epoch": 0,
            "best": None,
            "best_epoch": 0,
            "bad_epochs": 0,
            "history": [],
            "finished": False,
            "train_seconds": 0.0,
            "train_rows": 0,
        }
        best_weights = None
        resumed_from = None
        if resuming:
            state, best_weights = self._restore(run, optimizer)
            resumed_from = state["epoch"]
        writes = run is not None and (self.dist is None or self.dist.is_main)
        tracker = make_tracker(cfg.tracking, cfg.tracking_uri, run.path, self._resolved_config()) if writes else None

        try:
            best_weights = self._loop(train, valid, optimizer, state, best_weights, run, writes, tracker, callbacks)
        except BaseException:
            if tracker is not None:
                tracker.abort()  # a pruned trial or an interrupt leaves no run open in MLflow
            raise

        if best_weights is not None:
            self.model.load_state_dict(best_weights)
        metrics = {"valid": self.evaluate(valid)}
        if test is not None:
            metrics["test"] = self.evaluate(test)
        speed = state["train_rows"] / state["train_seconds"] if state["train_seconds"] else float("nan")
        result = FitResult(
            metrics,
            state["history"],
            state["best_epoch"],
            state["epoch"],
            state["train_seconds"],
            speed,
            run.path if run is not None else None,
            resumed_from,
        )
        if writes:
            self._finish(run, result)
        if tracker is not None:
            tracker.finish(result.metrics, run.path)
        return result

    def _loop(
        self, train, valid, optimizer, state: dict, best_weights, run: RunDir | None, writes: bool, tracker, callbacks
    ):
        """Epochs until early stopping or the epoch limit; returns the best weights seen."""
        cfg = self.config
        with _progress(cfg.progress) as progress:
            while not state["finished"] and state["epoch"] < cfg.epochs:
                epoch = state["epoch"] + 1
                record = self._train_epoch(train, optimizer, epoch, progress, state)
                self._last_lr = optimizer.param_groups[0]["lr"]
                scores = self.evaluate(valid, epoch)
                record.update({f"valid_{k}": v for k, v in scores.items()})
                value = float(scores[self.monitor])
                if _improved(value, state["best"], self.mode, cfg.min_delta):
                    state.update(best=value, best_epoch=epoch, bad_epochs=0)
                    best_weights = copy.deepcopy(self.model.state_dict())
                    if writes:
                        save_checkpoint({"model": best_weights, "epoch": epoch, self.monitor: value}, run.best)
                else:
                    state["bad_epochs"] += 1
                    if cfg.lr_schedule == "plateau" and state["bad_epochs"] % cfg.lr_patience == 0:
                        for group in optimizer.param_groups:
                            group["lr"] = max(group["lr"] * cfg.lr_decay_factor, cfg.min_lr)
                state["history"].append(_plain_record(record))
                state["epoch"] = epoch
                state["finished"] = state["bad_epochs"] >= cfg.patience or epoch >= cfg.epochs
                if writes:
                    self._checkpoint(run, optimizer, state)
                if self.dist is not None:
                    self.dist.barrier()  # no rank starts the next epoch before rank 0's checkpoint exists
                if tracker is not None:
                    tracker.log_epoch(epoch, record)
                for callback in callbacks:
                    callback(epoch, record)
        return best_weights

    def _train_epoch(self, train, optimizer, epoch: int, progress, state: dict) -> dict:
        cfg = self.config
        self.model.train()
        total_batches = train.num_batches(cfg.batch_size)
        if cfg.max_batches_per_epoch:
            total_batches = min(total_batches, cfg.max_batches_per_epoch)
        task_id = progress.add_task(f"epoch {epoch}", total=total_batches, loss=float("nan"))
        loss_sum, rows, steps = torch.zeros(()), 0, 0
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        regularize = getattr(self.model, "regularization_loss", None)
        forward = self._distributed_model() if self.dist is not None else self.model
        schedule = self._cosine_schedule(total_batches) if cfg.lr_schedule == "cosine" else None
        start = time.perf_counter()
        for batch in train.iter_batches(cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch):
            global_rows = len(batch["label"])
            world_size = self.dist.world_size if self.dist is not None else 1
            if global_rows < 2 * world_size:
                continue  # a trailing batch that leaves some rank one row (BatchNorm cannot train on it) or none
            weight = 1.0
            if self.dist is not None:
                batch = shard_batch(batch, self.dist.rank, self.dist.world_size)
                # DDP averages gradients over ranks; weighting each rank's mean by its share of
                # the global batch makes that average the one-process gradient of the batch.
                weight = len(batch["label"]) * self.dist.world_size / global_rows
            batch = _to_device(batch, self.device)
            if schedule is not None:
                for group in optimizer.param_groups:
                    group["lr"] = schedule((epoch - 1) * total_batches + steps)
            step_start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = self.task.loss(forward(batch), batch)
            total = loss + regularize(batch) if regularize is not None else loss
            if not torch.isfinite(total.detach()):
                raise TrainingError(
                    f"training diverged: the loss is {float(total.detach()):g} at epoch {epoch}, step "
                    f"{steps + 1} (lr {optimizer.param_groups[0]['lr']:.3g}); the last good checkpoint "
                    "is kept; lower train.lr or set train.grad_clip_norm, then rerun with "
                    "train.resume: false"
                )
            (total * weight if weight != 1.0 else total).backward()
            if cfg.grad_clip_norm:
                nn.utils.clip_grad_norm_(parameters, cfg.grad_clip_norm, foreach=True)
            optimizer.step()
            if self._fused.active:
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)  # the step's kernels, not their launch
                steps_left = (cfg.epochs - epoch) * total_batches + total_batches - steps - 1
                self._fused.after_step(time.perf_counter() - step_start, steps_left)
            n = len(batch["label"])
            loss_sum += loss.detach().cpu() * n
            rows += n
            steps += 1
            progress.update(task_id, advance=1)
            if steps >= total_batches:
                break
        seconds = time.perf_counter() - start
        progress.remove_task(task_id)
        if steps == 0:
            world = self.dist.world_size if self.dist is not None else 1
            raise TrainingError(
                f"epoch {epoch} took no optimisation step "
                f"({len(train) if hasattr(train, '__len__') else '?'} rows, batch_size "
                f"{cfg.batch_size}, world size {world}); every step needs at least 2 rows per process: "
                "use more rows or a larger train.batch_size"
            )
        if self.dist is not None:
            loss_total, rows = self.dist.all_reduce_sum([float(loss_sum), rows])
            loss_sum, rows = torch.tensor(loss_total), int(rows)
        state["train_seconds"] += seconds
        state["train_rows"] += rows
        return {
            "epoch": epoch,
            "train_loss": float(loss_sum) / max(rows, 1),
            "lr": optimizer.param_groups[0]["lr"],
            "train_seconds": seconds,
            "train_samples_per_second": rows / seconds if seconds else float("nan"),
        }

    def _cosine_schedule(self, steps_per_epoch: int) -> Callable[[int], float]:
        """Learning rate at a global step: linear warm-up, then cosine decay to ``min_lr`` at the last epoch.

        A pure function of the step, so a resumed run follows the same curve with no scheduler state.
        """
        cfg = self.config
        warmup, total = cfg.warmup_epochs * steps_per_epoch, max(cfg.epochs * steps_per_epoch, 1)

        def lr_at(step: int) -> float:
            if step < warmup:
                return cfg.lr * (step + 1) / warmup
            progress = min((step - warmup) / max(total - warmup, 1), 1.0)
            return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))

        return lr_at

    def _distributed_model(self) -> nn.Module:
        if getattr(self, "_ddp", None) is None:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = DistributedDataParallel(self.model, device_ids=ids)
        return self._ddp

    # ------------------------------------------------------------------ run directory
    def _open_run(self, train, valid, test) -> RunDir | None:
        """The run directory; rank 0 locks it, checks the fingerprint and only then writes into it."""
        cfg = self.config
        if not cfg.save_checkpoints:
            return None
        if self.dist is not None and cfg.run_name is None:
            raise ConfigError(
                "train.run_name must be set under torchrun, so that every rank finds the same run directory"
            )
        name = cfg.run_name or f"{type(self.model).__name__.lower()}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
        run = RunDir.under(cfg.run_dir, name)
        if self.dist is not None and not self.dist.is_main:
            return run  # rank 0 writes it; the others only read checkpoints to resume
        fingerprint, labels = self._fingerprint(train, valid, test)
        schema = self.schema.to_dict() if self.schema is not None else None
        run.start(fingerprint, labels, cfg.resume, self._resolved_config(), schema)
        return run

    def _fingerprint(self, train, valid, test) -> tuple[dict[str, str], dict[str, str]]:
        """What a resumed run must share with the run it continues: on content, never on paths."""
        resolved = self._resolved_config()
        train_keys = {k: v for k, v in resolved["train"].items() if k not in _RESUMABLE_KEYS}
        data = resolved.get("data")
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in _PATH_KEYS}
        config = {
            **{k: v for k, v in resolved.items() if k not in ("train", "data", "source")},
            "data": data,
            "train": train_keys,
        }
        shapes = [(k, tuple(v.shape), str(v.dtype)) for k, v in self.model.state_dict().items()]
        fingerprint = {
            "configuration": digest(config),
            "model": digest([type(self.model).__name__, shapes]),
            "training data": data_digest(train),
            "validation data": data_digest(valid),
        }
        if test is not None:
            fingerprint["test data"] = data_digest(test)
        if self.schema is not None:
            fingerprint["fitted schema"] = digest(self.schema.to_dict())
        labels = {}
        for role, path in self.data_files.items():
            key = f"{_ROLES.get(role, role)} file"
            fingerprint[key], labels[key] = file_digest(path), str(path)
        return fingerprint, labels

    def _resolved_config(self) -> dict:
        return {
            **self.run_config,
            "train": {**self.config.to_dict(), "monitor": self.monitor, "monitor_mode": self.mode},
        }

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
        if cfg.optimizer == "lion":
            from mlpzoo.train.lion import Lion

            return Lion(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=0.9)

    def _checkpoint(self, run: RunDir, optimizer, state: dict) -> None:
        save_checkpoint(
            {
                "model": self.model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "state": state,
                "rng": _rng_state(),
            },
            run.last,
        )
        run.write_metrics(state["history"])

    def _restore(self, run: RunDir, optimizer) -> tuple[dict, dict | None]:
        saved = load_checkpoint(run.last)
        self.model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        _set_rng_state(saved["rng"])
        state = saved["state"]
        # A run extended with more epochs than it first had goes on training.
        if state["finished"] and state["bad_epochs"] < self.config.patience and state["epoch"] < self.config.epochs:
            state["finished"] = False
        best = load_checkpoint(run.best)["model"] if run.best.exists() else None
        return state, best

    def _finish(self, run: RunDir, result: FitResult) -> None:
        summary = {
            "model": type(self.model).__name__,
            "monitor": self.monitor,
            "metrics": result.metrics,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "train_seconds": result.train_seconds,
            "train_samples_per_second": result.train_samples_per_second,
            "parameters": count_parameters(self.model),
            "finished_at": datetime.now(timezone.utc).isoformat(),
        }
        run.write_result(summary)
        if result.history:
            write_report(run, summary, result.history, self._resolved_config())


def _rng_state() -> dict:
    """Every generator's state as tensors and plain values, so the checkpoint loads with weights_only=True."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
    }


def _set_rng_state(saved: dict) -> None:
    torch.set_rng_state(saved["torch"])
    numpy = saved["numpy"]
    key = numpy["key"].numpy().astype(np.uint32)
    np.random.set_state((numpy["kind"], key, numpy["pos"], numpy["has_gauss"], numpy["gauss"]))
    python = saved["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))


def _plain_record(record: dict) -> dict:
    """An epoch record with numpy scalars turned into Python numbers (checkpoints hold plain values only)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()}


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device = {name!r} but no CUDA device is available; use device: cpu or auto")
    return device


def _to_device(batch, device: torch.device):
    if device.type == "cpu":
        return batch
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    return batch.to(device, non_blocking=True) if isinstance(batch, torch.Tensor) else batch


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if best is None:
        return not np.isnan(value)
    return value > best + min_delta if mode == "max" else value < best - min_delta


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        disable=not (enabled and sys.stderr.isatty()),
    )
