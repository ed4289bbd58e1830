"""Batched augmentations against per-image references, and soft targets through Classification."""

import numpy as np
import pytest
import torch

from mlpzoo.data.augment import HorizontalFlip, LabelSmoothing, Mixup, RandomCrop, soft_targets
from mlpzoo.errors import ConfigError
from mlpzoo.tasks.supervised import Classification


def test_random_crop_matches_per_image_reference():
    x = torch.randn(6, 3, 5, 7)
    out, _ = RandomCrop(2)(x, torch.zeros(6), torch.Generator().manual_seed(0))
    # Replay the generator to get the same offsets, then crop each image by slicing.
    g = torch.Generator().manual_seed(0)
    dy, dx = torch.randint(0, 5, (6, 1, 1), generator=g), torch.randint(0, 5, (6, 1, 1), generator=g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(6):
        a, b = int(dy[i]), int(dx[i])
        assert torch.equal(out[i], padded[i, :, a : a + 5, b : b + 7])
    assert len({(int(a), int(b)) for a, b in zip(dy, dx)}) > 1


def test_horizontal_flip():
    x = torch.randn(200, 1, 2, 3)
    out, _ = HorizontalFlip(0.5)(x, torch.zeros(200), torch.Generator().manual_seed(1))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert bool((flipped | same).all()) and 60 < int(flipped.sum()) < 140
    assert torch.equal(HorizontalFlip(0.0)(x, None, torch.Generator())[0], x)


def test_mixup_matches_reference_with_replayed_generator():
    x = torch.randn(32, 3, 4, 4)
    labels = torch.arange(32) % 10
    out, target = Mixup(0.8, 10)(x, labels, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=g)))
    rng.random()
    lam = rng.beta(0.8, 0.8)
    perm = torch.randperm(32, generator=g)
    one_hot = torch.eye(10)[labels]
    assert 0 < lam < 1 and not torch.equal(perm, torch.arange(32))
    assert torch.allclose(out, lam * x + (1 - lam) * x[perm], atol=1e-6)
    assert torch.allclose(target, lam * one_hot + (1 - lam) * one_hot[perm], atol=1e-6)
    assert torch.allclose(target.sum(1), torch.ones(32))


def test_label_smoothing_and_soft_targets():
    labels = torch.tensor([0, 2])
    _, target = LabelSmoothing(0.1, 4)(None, labels, torch.Generator())
    assert torch.allclose(target, torch.tensor([[0.925, 0.025, 0.025, 0.025], [0.025, 0.025, 0.925, 0.025]]))
    with pytest.raises(ConfigError, match="outside 0..3"):
        soft_targets(torch.tensor([4]), 4)
    with pytest.raises(ConfigError, match="smoothing"):
        LabelSmoothing(1.0)
    with pytest.raises(ConfigError, match="alpha"):
        Mixup(0.0)


def test_classification_accepts_soft_targets():
    logits = torch.randn(5, 3, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 1, 0])
    task = Classification()
    hard = task.loss(logits, {"label": labels})
    soft = task.loss(logits, {"label": soft_targets(labels, 3)})
    assert torch.allclose(hard, soft)
    smoothed = LabelSmoothing(0.2, 3)(None, labels, None)[1]
    reference = -(smoothed * torch.log_softmax(logits, 1)).sum(1).mean()
    assert torch.allclose(task.loss(logits, {"label": smoothed}), reference)
