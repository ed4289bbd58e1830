"""The text tasks: the bidirectional ranking loss (all vs hardest negatives), recall@K, Bradley-Terry, masked LM."""

import numpy as np
import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.tasks.text import BidirectionalRanking, MaskedLanguageModel, PairwisePreference, ranking_loss, recall_at_k


def _slow_ranking_loss(images, texts, margin, negatives):
    total = 0.0
    n = len(images)
    for i in range(n):
        positive = float(images[i] @ texts[i])
        image_hinges = [max(0.0, margin - positive + float(images[i] @ texts[j])) for j in range(n) if j != i]
        text_hinges = [max(0.0, margin - positive + float(images[j] @ texts[i])) for j in range(n) if j != i]
        pick = max if negatives == "hardest" else sum
        total += pick(image_hinges) + pick(text_hinges)
    return total / n


@pytest.mark.parametrize("negatives", ["all", "hardest"])
def test_ranking_loss_matches_a_slow_reference(negatives):
    g = torch.Generator().manual_seed(0)
    images = torch.nn.functional.normalize(torch.randn(5, 4, generator=g), dim=1)
    texts = torch.nn.functional.normalize(torch.randn(5, 4, generator=g), dim=1)
    got = float(ranking_loss(images, texts, 0.2, negatives))
    assert got == pytest.approx(_slow_ranking_loss(images, texts, 0.2, negatives), rel=1e-5)


def test_recall_at_k_and_bad_negatives():
    identity = np.eye(12, dtype=np.float32)
    perfect = recall_at_k(identity, identity)
    assert perfect["i2t_r@1"] == 1.0 and perfect["t2i_r@1"] == 1.0 and perfect["rsum"] == 6.0
    shifted = recall_at_k(identity, np.roll(identity, 1, axis=0))
    assert shifted["i2t_r@1"] == 0.0
    outputs = torch.cat([torch.eye(12), torch.eye(12)], 1).numpy()
    assert BidirectionalRanking().evaluate(np.arange(12), outputs)["rsum"] == 6.0
    with pytest.raises(ConfigError, match="negatives"):
        BidirectionalRanking(negatives="semi-hard")


def test_preference_and_masked_lm_tasks():
    task = PairwisePreference()
    scores = torch.tensor([[2.0, 1.0], [0.0, 1.0]])
    assert task.evaluate(None, task.predict(scores).numpy())["accuracy"] == 0.5
    assert float(task.loss(scores, {})) == pytest.approx(
        float(-(torch.nn.functional.logsigmoid(torch.tensor([1.0, -1.0]))).mean())
    )
    mlm = MaskedLanguageModel()
    label = torch.tensor([[-100, 3, -100], [4, -100, -100]])
    logits = torch.zeros(2, 6)
    logits[0, 3] = logits[1, 1] = 5.0
    assert mlm.evaluate(label.numpy(), mlm.predict(logits).numpy())["accuracy"] == 0.5
    assert float(mlm.loss(logits, {"label": label})) > 0
