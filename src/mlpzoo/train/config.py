"""The Trainer's configuration: one flat, typed block (YAML ``train:``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from mlpzoo.errors import ConfigError


@dataclass
class TrainConfig:
    """Training settings; defaults follow FuxiCTR's published CTR protocol.

    epochs: maximum epochs. batch_size / eval_batch_size: rows per step.
    lr: learning rate. optimizer: adam | adamw | sgd | lion (Chen et al. 2023; use a ~3-10x smaller lr than Adam). weight_decay: decoupled for adamw, L2 otherwise.
    monitor / monitor_mode: validation metric for early stopping (task default when None).
    patience: epochs without improvement before stopping. lr_schedule: plateau (FuxiCTR's: multiply
    the learning rate by lr_decay_factor after every lr_patience epochs without improvement, floored
    at min_lr; factor 1.0 disables) | cosine (per step: linear warm-up over warmup_epochs, then
    cosine decay to min_lr at the last epoch; DeiT's recipe for the vision papers) | none. grad_clip_norm: max gradient norm (None disables).
    seed: seeds weights, dropout and shuffling. deterministic: ask torch for deterministic kernels.
    num_threads: intra-op CPU threads (None keeps torch's). run_dir / run_name: where the run lives;
    a run with the same name and an unfinished checkpoint resumes when resume is true.
    max_batches_per_epoch: cap steps per epoch (quick budgets). progress: rich progress bar.
    save_checkpoints: write last/best checkpoints and the report (off for throw-away fits).
    device: cpu | cuda | cuda:N | auto (cuda when available). Under torchrun each rank uses cuda:LOCAL_RANK.
    tracking: none | mlflow | tensorboard (extras ``mlpzoo[tracking]``; nothing is imported when none).
    tracking_uri: MLflow tracking URI (default a SQLite store ``<run_dir>/mlflow.db``) or the
    TensorBoard log directory (default ``<run dir>/tensorboard``).
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
            raise ConfigError(f"{where}.grad_clip_norm = {self.grad_clip_norm} must be positive, or null to disable clipping")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"{where}.num_threads = {self.num_threads} must be at least 1, or null to keep torch's setting")
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
            raise ConfigError(f"{where}.warmup_epochs = {self.warmup_epochs} must be below epochs = {self.epochs} for a cosine schedule")
        if not 0 < self.lr_decay_factor <= 1:
            raise ConfigError(f"{where}.lr_decay_factor = {self.lr_decay_factor} must be in (0, 1]")
        if self.tracking not in ("none", "mlflow", "tensorboard"):
            raise ConfigError(f"{where}.tracking = {self.tracking!r}; use none, mlflow or tensorboard")
        if not (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
            raise ConfigError(f"{where}.device = {self.device!r}; use cpu, cuda, cuda:N or auto")
        if self.max_batches_per_epoch is not None and self.max_batches_per_epoch < 1:
            raise ConfigError(f"{where}.max_batches_per_epoch must be at least 1 or null")

    def to_dict(self) -> dict:
        return asdict(self)
