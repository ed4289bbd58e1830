"""Batched image augmentations on tensors, driven by a ``torch.Generator`` (no torchvision).

Every augmentation is a callable ``aug(x, label, generator) -> (x, label)`` on a float batch
``x`` ``(B, C, H, W)``; ``label`` is int64 ``(B,)`` class ids or float ``(B, K)`` soft targets.
Those that mix or soften labels (:class:`Mixup`, :class:`LabelSmoothing`) return soft targets,
which :class:`mlpzoo.tasks.supervised.Classification` accepts. The recipe of "Scaling MLPs"
(Bachmann et al., 2023, arXiv:2306.13575) and of the Mixer-family papers on CIFAR-10 is
``Compose([RandomCrop(4), HorizontalFlip(), Mixup(0.8, 10), LabelSmoothing(0.1, 10)])``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from mlpzoo.errors import ConfigError

__all__ = ["Compose", "HorizontalFlip", "LabelSmoothing", "Mixup", "RandomCrop", "soft_targets"]


def soft_targets(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class ids ``(B,)`` -> one-hot float ``(B, K)``; soft targets pass through unchanged."""
    if label.is_floating_point() and label.ndim == 2:
        if label.shape[1] != num_classes:
            raise ConfigError(
                f"soft targets have {label.shape[1]} classes but the augmentation was built for "
                f"num_classes={num_classes}"
            )
        return label
    if label.numel() and (int(label.min()) < 0 or int(label.max()) >= num_classes):
        raise ConfigError(
            f"labels span {int(label.min())}..{int(label.max())}, outside 0..{num_classes - 1}; set num_classes"
        )
    return torch.nn.functional.one_hot(label.long(), num_classes).float()


class RandomCrop:
    """Zero-pad by ``padding`` pixels on every side, then crop each image back at its own random offset."""

    def __init__(self, padding: int = 4):
        if padding < 0:
            raise ConfigError(f"RandomCrop padding={padding} must be >= 0")
        self.padding = padding

    def __call__(self, x: torch.Tensor, label: torch.Tensor, generator: torch.Generator):
        if self.padding == 0:
            return x, label
        b, c, h, w = x.shape
        p = self.padding
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (b, 1, 1), generator=generator)
        dx = torch.randint(0, 2 * p + 1, (b, 1, 1), generator=generator)
        rows = dy + torch.arange(h).view(1, h, 1)
        cols = dx + torch.arange(w).view(1, 1, w)
        # One gather over the flattened padded plane: index = row * padded_width + col.
        index = (rows * (w + 2 * p) + cols).view(b, 1, h * w).expand(b, c, h * w)
        return padded.flatten(2).gather(2, index).view(b, c, h, w), label


class HorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"HorizontalFlip p={p} must be in [0, 1]")
        self.p = p

    def __call__(self, x: torch.Tensor, label: torch.Tensor, generator: torch.Generator):
        flip = torch.rand(x.shape[0], generator=generator) < self.p
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x), label


class Mixup:
    """mixup (Zhang et al., 2018, arXiv:1710.09412): ``lam * x + (1 - lam) * x[perm]``, same for the targets.

    One ``lam ~ Beta(alpha, alpha)`` per batch, as in the reference implementation; ``prob`` is
    the chance a batch is mixed at all. Always returns soft targets ``(B, num_classes)``.
    """

    def __init__(self, alpha: float = 0.8, num_classes: int = 10, prob: float = 1.0):
        if alpha <= 0:
            raise ConfigError(f"Mixup alpha={alpha} must be > 0")
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f"Mixup prob={prob} must be in [0, 1]")
        self.alpha, self.num_classes, self.prob = alpha, num_classes, prob

    def __call__(self, x: torch.Tensor, label: torch.Tensor, generator: torch.Generator):
        target = soft_targets(label, self.num_classes)
        # torch's Beta sampler takes no generator; a numpy one seeded from it keeps runs reproducible.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        if rng.random() >= self.prob:
            return x, target
        lam = float(rng.beta(self.alpha, self.alpha))
        perm = torch.randperm(x.shape[0], generator=generator)
        return x.mul(lam).add_(x[perm], alpha=1.0 - lam), target.mul(lam).add_(target[perm], alpha=1.0 - lam)


class LabelSmoothing:
    """Soft targets ``(1 - smoothing) * y + smoothing / num_classes`` (Szegedy et al., 2016)."""

    def __init__(self, smoothing: float = 0.1, num_classes: int = 10):
        if not 0.0 <= smoothing < 1.0:
            raise ConfigError(f"LabelSmoothing smoothing={smoothing} must be in [0, 1)")
        self.smoothing, self.num_classes = smoothing, num_classes

    def __call__(self, x: torch.Tensor, label: torch.Tensor, generator: torch.Generator):
        target = soft_targets(label, self.num_classes)
        return x, target * (1.0 - self.smoothing) + self.smoothing / self.num_classes


class Compose:
    """Apply augmentations in order, sharing one generator."""

    def __init__(self, augmentations: Sequence):
        self.augmentations = list(augmentations)

    def __call__(self, x: torch.Tensor, label: torch.Tensor, generator: torch.Generator):
        for augmentation in self.augmentations:
            x, label = augmentation(x, label, generator)
        return x, label
