"""What the restoration-and-distillation claims share (maxim, scalekd, swinchex).

- **Denoising (maxim).** :class:`NoisyImages` pairs real photographs (CIFAR-10) with additive white Gaussian
  noise: training batches draw a random crop, a flip and a noise level per image from a generator seeded by
  ``(seed, epoch)``; evaluation sets hold one fixed noisy copy per image. :func:`fit_denoiser` trains a
  registered restoration model with the one Trainer (selection on validation PSNR) and measures test PSNR at
  each noise level on full images, a size it never trained on, and on an odd size that needs padding.
- **Classification fits (scalekd, swinchex).** :func:`train_config` is the one recipe of their fits
  (AdamW, cosine after warm-up, no early stop, best-validation weights), :func:`cifar10_data` the CIFAR-10
  split of :mod:`mlpzoo.claims.kits.vision` as :class:`ImageData` with crop and flip.
- **Verdict helpers**: :func:`parameter_gap` (equal parameters within 3 %), :func:`sigma_checks` (one
  1-SE comparison per noise level).
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from mlpzoo.claims.base import compare
from mlpzoo.claims.kits.vision import cifar10_splits
from mlpzoo.data.augment import Compose, HorizontalFlip, RandomCrop
from mlpzoo.data.images import ImageData
from mlpzoo.errors import ConfigError
from mlpzoo.measure import count_parameters
from mlpzoo.registry import create_model
from mlpzoo.tasks.denoising import Denoising, psnr
from mlpzoo.train.trainer import Trainer

PARAMETER_TOLERANCE = 0.03  # "equal parameters": the two counts within 3 %
SIGMAS = (15, 25, 50)  # noise standard deviations on the 0-255 scale (the paper's Gaussian denoising levels)
EVAL_NOISE_SEED = 12_345  # the fixed noise of validation and test images, the same for every arm


# ---------------------------------------------------------------------------- noisy photographs
class NoisyImages:
    """Noisy/clean pairs of uint8 images ``(N, C, H, W)`` for the Trainer: ``{"x": noisy, "label": clean}`` in [0, 1].

    Args:
        images: the clean photographs (uint8).
        sigmas: noise standard deviations on the 0-255 scale; a training image draws one uniformly, an
            evaluation image gets ``sigmas[i % len(sigmas)]``.
        crop: training crop side (None: whole images); evaluation sets are never cropped.
        train: random crops, flips and fresh noise per epoch when ``iter_batches(shuffle=True)``; else one fixed
            noisy copy (seeded by ``noise_seed``), so every model is scored on the same inputs.
    """

    def __init__(
        self,
        images: torch.Tensor,
        sigmas: tuple[float, ...],
        crop: int | None = None,
        train: bool = False,
        noise_seed: int = EVAL_NOISE_SEED,
    ):
        if images.ndim != 4 or images.dtype != torch.uint8:
            raise ConfigError(
                f"NoisyImages: images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        if crop is not None and not 0 < crop <= min(images.shape[-2:]):
            raise ConfigError(f"NoisyImages: crop={crop} must lie in 1..{min(images.shape[-2:])} (the image side)")
        self.images, self.sigmas, self.crop, self.train = images, tuple(float(s) for s in sigmas), crop, train
        self.fixed = None if train else self._fixed_noise(noise_seed)

    def _fixed_noise(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        clean = self.images.float() / 255.0
        generator = torch.Generator().manual_seed(seed)
        sigma = torch.tensor([self.sigmas[i % len(self.sigmas)] for i in range(len(clean))]) / 255.0
        noise = torch.randn(clean.shape, generator=generator) * sigma.view(-1, 1, 1, 1)
        return clean + noise, clean

    def __len__(self) -> int:
        return self.images.shape[0]

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def iter_batches(
        self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0
    ) -> Iterator[dict[str, torch.Tensor]]:
        if self.fixed is not None:
            noisy, clean = self.fixed
            for start in range(0, len(self), batch_size):
                yield {"x": noisy[start : start + batch_size], "label": clean[start : start + batch_size]}
            return
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for start in range(0, len(self), batch_size):
            clean = self._augment(self.images[order[start : start + batch_size]].float() / 255.0, generator)
            pick = torch.randint(len(self.sigmas), (len(clean),), generator=generator)
            sigma = torch.tensor(self.sigmas)[pick].view(-1, 1, 1, 1) / 255.0
            yield {"x": clean + sigma * torch.randn(clean.shape, generator=generator), "label": clean}

    def _augment(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.crop is not None:
            b, c, h, w = clean.shape
            top = torch.randint(h - self.crop + 1, (b, 1, 1), generator=generator)
            left = torch.randint(w - self.crop + 1, (b, 1, 1), generator=generator)
            rows = (top + torch.arange(self.crop).view(1, -1, 1)).view(b, 1, self.crop, 1).expand(b, c, self.crop, w)
            clean = clean.gather(2, rows)
            cols = (left + torch.arange(self.crop).view(1, 1, -1)).view(b, 1, 1, self.crop)
            clean = clean.gather(3, cols.expand(b, c, self.crop, self.crop))
        flip = torch.rand(len(clean), generator=generator) < 0.5
        return torch.where(flip.view(-1, 1, 1, 1), clean.flip(-1), clean)


def denoising_splits(settings: dict, data_dir=None) -> dict[str, torch.Tensor]:
    """uint8 CIFAR-10 photographs: train and validation from the training split, test from the test split."""
    splits = cifar10_splits(
        settings["train_per_class"], settings["valid_per_class"], settings["test_per_class"], data_dir
    )
    return {name: images for name, (images, _) in splits.items()}


def noisy_input_psnr(data: NoisyImages) -> float:
    """PSNR of the noisy inputs themselves: the score of doing nothing."""
    noisy, clean = data.fixed
    return float(psnr(clean.numpy(), noisy.numpy()).mean())


# ---------------------------------------------------------------------------- equal parameters
def matched_expansion(target: int, kwargs: dict, name: str = "conv_unet") -> float:
    """The ``expansion`` of ``name`` (parameters grow linearly in it) whose count is closest to ``target``."""
    low, high = (count_parameters(create_model(name, **kwargs, expansion=e)) for e in (0.5, 1.0))
    expansion = 0.5 + (target - low) * 0.5 / (high - low)
    if expansion <= 0:
        raise ConfigError(f"{name} with {kwargs} has more than {target} parameters at any expansion; shrink its width")
    # Inner widths are rounded per level: look at the neighbours of the linear solution for the closest count.
    candidates = [expansion * (1 + d / 200) for d in range(-6, 7)]
    return min(candidates, key=lambda e: abs(count_parameters(create_model(name, **kwargs, expansion=e)) - target))


def parameter_gap(row: dict, base: dict) -> float:
    """Relative parameter difference of ``row`` against ``base``."""
    return row["parameters"] / base["parameters"] - 1.0


# ---------------------------------------------------------------------------- one denoising fit
def train_config(settings: dict, seed: int, lr: float, batch_size: int) -> dict:
    """The shared recipe: AdamW, the whole cosine schedule after warm-up (no early stop), best-validation weights."""
    return {
        "epochs": settings["epochs"],
        "patience": settings["epochs"],
        "batch_size": batch_size,
        "eval_batch_size": 256,
        "lr": lr,
        "optimizer": "adamw",
        "weight_decay": settings.get("weight_decay", 0.0),
        "lr_schedule": "cosine",
        "warmup_epochs": settings.get("warmup_epochs", 0),
        "min_lr": lr * 1e-3,
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        "device": settings.get("device", "cpu"),
    }


def fit_denoiser(name: str, kwargs: dict, seed: int, images: dict[str, torch.Tensor], settings: dict) -> dict:
    """Train ``name`` on noisy crops; one evidence row with test PSNR per noise level and at the odd size."""
    model = create_model(name, **kwargs)
    train = NoisyImages(images["train"], SIGMAS, crop=settings["crop"], train=True)
    valid = NoisyImages(images["valid"], SIGMAS)
    trainer = Trainer(Denoising(), model, train_config(settings, seed, settings["lr"], settings["batch_size"]))
    result = trainer.fit(train, valid)  # selection on validation PSNR over all three noise levels
    row = {
        "model": name,
        "seed": seed,
        "valid_psnr": result.metrics["valid"]["psnr"],
        "parameters": float(count_parameters(model)),
        "train_size": settings["crop"],
        "test_size": int(images["test"].shape[-1]),
        "epochs": result.epochs_run,
        "train_samples_per_second": result.train_samples_per_second,
    }
    for sigma in SIGMAS:  # the test photographs, whole: a size the model never trained on
        test = NoisyImages(images["test"], (sigma,))
        row[f"psnr_sigma{sigma}"] = trainer.evaluate(test)["psnr"]
        row[f"noisy_psnr_sigma{sigma}"] = noisy_input_psnr(test)
    odd = settings["odd_size"]  # a centre crop that is not a multiple of what the levels need: padded
    start = (images["test"].shape[-1] - odd) // 2
    odd_test = NoisyImages(images["test"][..., start : start + odd, start : start + odd], (25,))
    row["odd_size"] = odd
    row["psnr_odd_size_sigma25"] = trainer.evaluate(odd_test)["psnr"]
    row["noisy_psnr_odd_size_sigma25"] = noisy_input_psnr(odd_test)
    return row


def sigma_checks(mine: dict, base: dict) -> dict[int, object]:
    """Per noise level, the 1-SE comparison of ``mine`` against ``base`` in test PSNR."""
    return {sigma: compare(mine, base, f"psnr_sigma{sigma}") for sigma in SIGMAS}


def denoises(row: dict, metric: str, reference: str) -> bool:
    """Whether the mean PSNR of ``metric`` lies above the noisy input's (``reference``): the model restores at all."""
    value = row[f"{metric}_mean"]
    return math.isfinite(value) and value > row[reference]


def cifar10_data(settings: dict, data_dir=None) -> tuple[ImageData, ImageData, ImageData]:
    """CIFAR-10 train (random crop with pad 4 and flip), validation and test, normalised with train statistics."""
    splits = cifar10_splits(
        settings["train_per_class"], settings["valid_per_class"], settings["test_per_class"], data_dir
    )
    train = ImageData(*splits["train"], augment=Compose([RandomCrop(4), HorizontalFlip()]))
    return train, ImageData(*splits["valid"], train.mean, train.std), ImageData(*splits["test"], train.mean, train.std)
