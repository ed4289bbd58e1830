"""The Trainer's configuration: one flat, typed block (YAML ``train:``)."""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass

from mlpzoo.errors import ConfigError


@dataclass
class TrainConfig:
    """Training settings; defaults follow FuxiCTR's published CTR protocol.

    epochs: maximum epochs. batch_size / eval_batch_size: rows per step.
    lr: learning rate. optimizer: adam | adamw | sgd | lion (Chen et al. 2023; use a ~3-10x smaller lr than Adam).
    weight_decay: decoupled for adamw, L2 otherwise.
    monitor / monitor_mode: validation metric for early stopping (task default when None).
    patience: epochs without improvement before stopping. lr_schedule: plateau (FuxiCTR's: multiply
    the learning rate by lr_decay_factor after every lr_patience epochs without improvement, floored
    at min_lr; factor 1.0 disables) | cosine (per step: linear warm-up over warmup_epochs, then
    cosine decay to min_lr at the last epoch; DeiT's recipe for the vision papers) | none. grad_clip_norm: max gradient
    norm (None disables).
    seed: seeds weights, dropout and shuffling (0 <= seed < 2**63). init: seed (a fresh run draws the
    initial weights of a registered model still as built under seed; trained, loaded or pruned models
    keep theirs, see ``train/init.py``) | keep (never touch the weights). deterministic: ask torch for deterministic
    kernels.
    num_threads: intra-op CPU threads (None keeps torch's). run_dir / run_name: where the run lives;
    a run with the same name and an unfinished checkpoint resumes when resume is true and its fingerprint
    (configuration, model, data content, fitted schema) matches; resume false deletes the run's files and starts over.
    max_batches_per_epoch: cap steps per epoch (quick budgets). progress: rich progress bar.
    save_checkpoints: write last/best checkpoints and the report (off for throw-away fits).
    device: cpu | cuda | cuda:N | auto (cuda when available). Under torchrun each rank uses cuda:LOCAL_RANK.
    tracking: none | mlflow | tensorboard (extras ``mlpzoo[tracking]``; nothing is imported when none).
    tracking_uri: MLflow tracking URI (default a SQLite store ``<run_dir>/mlflow.db``) or the
    TensorBoard log directory (default ``<run dir>/tensorboard``).
    fused: auto (compiled KAN kernels when the run is long enough to amortise compiling them, by a
    measured rule: ``mlpzoo.train.fused``, docs/efficiency.md; short runs stay eager) | true (compile
    from the first step) | false (every layer keeps its own ``fused`` setting).
    """

    epochs: int = 100
    batch_size: int = 4096
    eval_batch_size: int = 32768
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    monitor: str | None = None
    monitor_mode: str | None = None
    patience: int = 2
    lr_decay_factor: float = 0.1
    lr_patience: int = 1
    lr_schedule: str = "plateau"
    warmup_epochs: int = 0
    min_lr: float = 1e-6
    min_delta: float = 1e-6
    grad_clip_norm: float | None = 10.0
    seed: int = 2021
    init: str = "seed"
    deterministic: bool = False
    num_threads: int | None = None
    run_dir: str = "runs"
    run_name: str | None = None
    resume: bool = True
    max_batches_per_epoch: int | None = None
    progress: bool = True
    save_checkpoints: bool = True
    device: str = "cpu"
    tracking: str = "none"
    tracking_uri: str | None = None
    fused: bool | str = "auto"

    def validate(self, where: str = "train") -> None:
        positive = ["epochs", "batch_size", "eval_batch_size", "patience"]
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{where}.{name} = {getattr(self, name)} must be at least 1")
        if not self.lr > 0 or not math.isfinite(self.lr):  # "not >" also catches NaN
            raise ConfigError(f"{where}.lr = {self.lr} must be a positive finite number")
        if not self.weight_decay >= 0:
            raise ConfigError(f"{where}.weight_decay = {self.weight_decay} must be 0 or positive")
        if self.grad_clip_norm is not None and not self.grad_clip_norm > 0:
            raise ConfigError(
                f"{where}.grad_clip_norm = {self.grad_clip_norm} must be positive, or null to disable clipping"
            )
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(
                f"{where}.num_threads = {self.num_threads} must be at least 1, or null to keep torch's setting"
            )
        if not self.min_lr >= 0:
            raise ConfigError(f"{where}.min_lr = {self.min_lr} must be 0 or positive")
        if self.optimizer not in ("adam", "adamw", "sgd", "lion"):
            raise ConfigError(f"{where}.optimizer = {self.optimizer!r}; use adam, adamw, sgd or lion")
        if self.monitor_mode not in (None, "max", "min"):
            raise ConfigError(f"{where}.monitor_mode = {self.monitor_mode!r}; use max or min")
        if self.lr_schedule not in ("plateau", "cosine", "none"):
            raise ConfigError(f"{where}.lr_schedule = {self.lr_schedule!r}; use plateau, cosine or none")
        if self.lr_patience < 1 or self.warmup_epochs < 0:
            raise ConfigError(f"{where}.lr_patience must be at least 1 and warmup_epochs at least 0")
        if self.lr_schedule == "cosine" and self.warmup_epochs >= self.epochs:
            raise ConfigError(
                f"{where}.warmup_epochs = {self.warmup_epochs} must be below epochs = {self.epochs} "
                "for a cosine schedule"
            )
        if not 0 < self.lr_decay_factor <= 1:
            raise ConfigError(f"{where}.lr_decay_factor = {self.lr_decay_factor} must be in (0, 1]")
        if self.tracking not in ("none", "mlflow", "tensorboard"):
            raise ConfigError(f"{where}.tracking = {self.tracking!r}; use none, mlflow or tensorboard")
        if not (self.device in ("cpu", "cuda", "auto") or re.fullmatch(r"cuda:\d+", self.device)):
            raise ConfigError(f"{where}.device = {self.device!r}; use cpu, cuda, cuda:N or auto")
        if self.max_batches_per_epoch is not None and self.max_batches_per_epoch < 1:
            raise ConfigError(f"{where}.max_batches_per_epoch must be at least 1 or null")
        if self.fused not in (True, False, "auto"):
            raise ConfigError(f"{where}.fused = {self.fused!r}; use auto, true or false")
        self._validate_safety(where)

    def _validate_safety(self, where: str) -> None:
        """Values that would crash deep inside torch, or write outside run_dir."""
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"{where}.seed = {self.seed} is out of range; use a whole number from 0 to 2**63 - 1")
        if self.init not in ("seed", "keep"):
            raise ConfigError(
                f"{where}.init = {self.init!r}; use seed (draw the initial weights from train.seed) or keep"
            )
        most = max(64, 4 * (os.cpu_count() or 1))
        if self.num_threads is not None and self.num_threads > most:
            raise ConfigError(
                f"{where}.num_threads = {self.num_threads} is more than {most} (this machine has "
                f"{os.cpu_count()} CPUs); use at most the number of cores, or null to keep torch's "
                "setting"
            )
        if self.run_name is not None:
            from mlpzoo.train.rundir import confined_name

            confined_name(self.run_name, f"{where}.run_name")
        if not self.run_dir.strip():
            raise ConfigError(f"{where}.run_dir is empty; give a folder such as runs")
        if self.tracking_uri is not None:
            _check_tracking_uri(self.tracking, self.tracking_uri, where)

    def to_dict(self) -> dict:
        return asdict(self)


_MLFLOW_SCHEMES = ("file", "sqlite", "http", "https", "databricks", "postgresql", "mysql", "mssql")


def _check_tracking_uri(tracking: str, uri: str, where: str) -> None:
    if tracking == "none":
        raise ConfigError(
            f"{where}.tracking_uri is set but {where}.tracking is none; set tracking: mlflow or "
            "tensorboard, or drop tracking_uri"
        )
    if not uri.strip():
        raise ConfigError(f"{where}.tracking_uri is empty; drop it for the default, or give a URI or folder")
    scheme = re.match(r"([A-Za-z][\w+.-]*)://", uri) or re.match(r"(databricks)\b", uri)
    if tracking == "tensorboard":
        if scheme:
            raise ConfigError(
                f"{where}.tracking_uri = {uri!r}: TensorBoard writes to a local folder; give a folder path"
            )
        return
    if scheme is None:
        if ":" in uri.split("/")[0]:
            raise ConfigError(
                f"{where}.tracking_uri = {uri!r} is neither a folder nor a URI; use e.g. "
                "sqlite:///runs/mlflow.db or http://host:5000"
            )
        return  # a local folder: MLflow's file store
    name = scheme.group(1).split("+")[0].lower()
    if name not in _MLFLOW_SCHEMES:
        raise ConfigError(
            f"{where}.tracking_uri = {uri!r}: unknown scheme {name!r}; use one of "
            f"{', '.join(_MLFLOW_SCHEMES)} (e.g. sqlite:///runs/mlflow.db or http://host:5000)"
        )
    if name == "sqlite" and not uri.startswith("sqlite:///"):
        raise ConfigError(
            f"{where}.tracking_uri = {uri!r}: a SQLite URI needs three slashes and a file, e.g. "
            "sqlite:///runs/mlflow.db"
        )
    if name in ("http", "https") and not re.match(r"https?://[^/\s:]+", uri):
        raise ConfigError(f"{where}.tracking_uri = {uri!r} names no host; use e.g. http://localhost:5000")
