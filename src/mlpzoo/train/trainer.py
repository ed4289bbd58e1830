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
import hashlib
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import yaml
from torch import nn

from mlpzoo.config import build_config
from mlpzoo.errors import ConfigError
from mlpzoo.train.checkpoint import load_checkpoint, save_checkpoint
from mlpzoo.train.config import TrainConfig
from mlpzoo.train.distributed import distributed_context, shard_batch
from mlpzoo.train.report import write_report
from mlpzoo.train.tracking import make_tracker

# Settings that may change between an interrupted run and its resumption.
_RESUMABLE_KEYS = {"epochs", "progress", "resume", "num_threads", "run_dir", "eval_batch_size", "device", "tracking", "tracking_uri"}


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
    """

    def __init__(self, task, model: nn.Module, config: TrainConfig | dict | None = None, run_config: dict | None = None):
        self.task = task
        self.model = model
        self.config = config if isinstance(config, TrainConfig) else build_config(TrainConfig, config, "train")
        self.monitor = self.config.monitor or task.default_monitor
        if self.monitor not in task.monitor_modes:
            raise ConfigError(f"train.monitor = {self.monitor!r} is not a metric of task {task.name}; use one of {', '.join(task.monitor_modes)}")
        self.mode = self.config.monitor_mode or task.monitor_modes[self.monitor]
        self.run_config = run_config or {}
        self.device = _resolve_device(self.config.device)
        self.model.to(self.device)
        self.dist = None  # set by fit() under torchrun

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
        return (predictions, torch.cat(labels).numpy() if labels else None, torch.cat(groups).numpy() if groups else None)

    def predict(self, data) -> np.ndarray:
        return self._predict_batches(data)[0]

    def evaluate(self, data) -> dict[str, float]:
        predictions, labels, groups = self._predict_batches(data)
        if labels is None:
            raise ConfigError("evaluate() needs data with labels; use predict() for unlabelled data")
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
        seed_everything(cfg.seed, cfg.deterministic)
        self.dist = distributed_context(self.device)
        if self.dist is not None and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            self.model.to(self.device)
        run_dir = self._prepare_run_dir()
        if self.dist is not None:
            self.dist.barrier()  # rank 0 has made (or cleaned) the run directory
        optimizer = self._make_optimizer()
        state = {"epoch": 0, "best": None, "best_epoch": 0, "bad_epochs": 0, "history": [], "finished": False, "train_seconds": 0.0, "train_rows": 0}
        best_weights = None
        resumed_from = None
        if run_dir is not None and cfg.resume and (run_dir / "last.pt").exists():
            state, best_weights = self._restore(run_dir, optimizer)
            resumed_from = state["epoch"]
        writes = run_dir is not None and (self.dist is None or self.dist.is_main)
        tracker = make_tracker(cfg.tracking, cfg.tracking_uri, run_dir, self._resolved_config()) if writes else None

        try:
            best_weights = self._loop(train, valid, optimizer, state, best_weights, run_dir, writes, tracker, callbacks)
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
        result = FitResult(metrics, state["history"], state["best_epoch"], state["epoch"], state["train_seconds"], speed, run_dir, resumed_from)
        if writes:
            self._finish(run_dir, result)
        if tracker is not None:
            tracker.finish(result.metrics, run_dir)
        return result

    def _loop(self, train, valid, optimizer, state: dict, best_weights, run_dir, writes: bool, tracker, callbacks):
        """Epochs until early stopping or the epoch limit; returns the best weights seen."""
        cfg = self.config
        with _progress(cfg.progress) as progress:
            while not state["finished"] and state["epoch"] < cfg.epochs:
                epoch = state["epoch"] + 1
                record = self._train_epoch(train, optimizer, epoch, progress, state)
                scores = self.evaluate(valid)
                record.update({f"valid_{k}": v for k, v in scores.items()})
                value = scores[self.monitor]
                if _improved(value, state["best"], self.mode, cfg.min_delta):
                    state.update(best=value, best_epoch=epoch, bad_epochs=0)
                    best_weights = copy.deepcopy(self.model.state_dict())
                    if writes:
                        save_checkpoint({"model": best_weights, "epoch": epoch, self.monitor: value}, run_dir / "best.pt")
                else:
                    state["bad_epochs"] += 1
                    if cfg.lr_schedule == "plateau" and state["bad_epochs"] % cfg.lr_patience == 0:
                        for group in optimizer.param_groups:
                            group["lr"] = max(group["lr"] * cfg.lr_decay_factor, cfg.min_lr)
                state["history"].append(record)
                state["epoch"] = epoch
                state["finished"] = state["bad_epochs"] >= cfg.patience or epoch >= cfg.epochs
                if writes:
                    self._checkpoint(run_dir, optimizer, state)
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
            optimizer.zero_grad(set_to_none=True)
            loss = self.task.loss(forward(batch), batch)
            total = loss + regularize(batch) if regularize is not None else loss
            (total * weight if weight != 1.0 else total).backward()
            if cfg.grad_clip_norm:
                nn.utils.clip_grad_norm_(parameters, cfg.grad_clip_norm, foreach=True)
            optimizer.step()
            n = len(batch["label"])
            loss_sum += loss.detach().cpu() * n
            rows += n
            steps += 1
            progress.update(task_id, advance=1)
            if steps >= total_batches:
                break
        seconds = time.perf_counter() - start
        progress.remove_task(task_id)
        if self.dist is not None:
            loss_total, rows = self.dist.all_reduce_sum([float(loss_sum), rows])
            loss_sum, rows = torch.tensor(loss_total), int(rows)
        state["train_seconds"] += seconds
        state["train_rows"] += rows
        return {"epoch": epoch, "train_loss": float(loss_sum) / max(rows, 1), "lr": optimizer.param_groups[0]["lr"],
                "train_seconds": seconds, "train_samples_per_second": rows / seconds if seconds else float("nan")}

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
    def _prepare_run_dir(self) -> Path | None:
        cfg = self.config
        if not cfg.save_checkpoints:
            return None
        name = cfg.run_name or f"{type(self.model).__name__.lower()}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
        run_dir = Path(cfg.run_dir) / name
        if self.dist is not None and not self.dist.is_main:
            if cfg.run_name is None:
                raise ConfigError("train.run_name must be set under torchrun, so that every rank finds the same run directory")
            return run_dir  # rank 0 writes it; the others only read checkpoints to resume
        run_dir.mkdir(parents=True, exist_ok=True)
        resolved = self._resolved_config()
        fingerprint = _fingerprint(resolved)
        stamp = run_dir / "fingerprint.txt"
        if cfg.resume and (run_dir / "last.pt").exists() and stamp.exists() and stamp.read_text() != fingerprint:
            raise ConfigError(f"run directory {run_dir} holds a run with a different configuration; choose another run_name, or set train.resume: false to overwrite it")
        if not cfg.resume:
            for stale in ("last.pt", "best.pt", "metrics.jsonl"):
                (run_dir / stale).unlink(missing_ok=True)
        stamp.write_text(fingerprint)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(_plain(resolved), sort_keys=False))
        return run_dir

    def _resolved_config(self) -> dict:
        return {**self.run_config, "train": {**self.config.to_dict(), "monitor": self.monitor, "monitor_mode": self.mode}}

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

    def _checkpoint(self, run_dir: Path, optimizer, state: dict) -> None:
        save_checkpoint({"model": self.model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
                         "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}},
                        run_dir / "last.pt")
        lines = "".join(json.dumps(record) + "\n" for record in state["history"])
        tmp = run_dir / ".metrics.jsonl.tmp"
        tmp.write_text(lines)
        os.replace(tmp, run_dir / "metrics.jsonl")

    def _restore(self, run_dir: Path, optimizer) -> tuple[dict, dict | None]:
        saved = load_checkpoint(run_dir / "last.pt")
        self.model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"]["torch"])
        np.random.set_state(saved["rng"]["numpy"])
        random.setstate(saved["rng"]["python"])
        state = saved["state"]
        # A run extended with more epochs than it first had goes on training.
        if state["finished"] and state["bad_epochs"] < self.config.patience and state["epoch"] < self.config.epochs:
            state["finished"] = False
        best = load_checkpoint(run_dir / "best.pt")["model"] if (run_dir / "best.pt").exists() else None
        return state, best

    def _finish(self, run_dir: Path, result: FitResult) -> None:
        summary = {"model": type(self.model).__name__, "monitor": self.monitor, "metrics": result.metrics, "best_epoch": result.best_epoch,
                   "epochs_run": result.epochs_run, "train_seconds": result.train_seconds,
                   "train_samples_per_second": result.train_samples_per_second,
                   "parameters": sum(p.numel() for p in self.model.parameters()),
                   "finished_at": datetime.now(timezone.utc).isoformat()}
        (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
        if result.history:
            write_report(run_dir, summary, result.history, yaml.safe_load((run_dir / "config.yaml").read_text()))


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


def _fingerprint(resolved: dict) -> str:
    stable = {k: v for k, v in resolved.get("train", {}).items() if k not in _RESUMABLE_KEYS}
    blob = json.dumps({**{k: v for k, v in resolved.items() if k != "train"}, "train": stable}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True, disable=not (enabled and sys.stderr.isatty()))
