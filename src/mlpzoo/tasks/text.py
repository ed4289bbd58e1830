"""Tasks of the text claims: bidirectional ranking, pairwise preference and masked language modelling.

Each follows the Trainer's task contract (``name``, ``default_monitor``, ``monitor_modes``, ``loss``,
``predict``, ``evaluate``); the Trainer concatenates a split's predictions, so ranking metrics are
computed over the whole split at once.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from mlpzoo.errors import ConfigError, DataError

NEGATIVES = ("all", "hardest")
RECALL_AT = (1, 5, 10)


def _split_pairs(outputs: torch.Tensor, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    if outputs.dim() != 2 or outputs.shape[1] % 2:
        raise DataError(f"{where}: outputs must be (batch, 2 * dim): image then text embeddings")
    half = outputs.shape[1] // 2
    return outputs[:, :half], outputs[:, half:]


def ranking_loss(images: torch.Tensor, texts: torch.Tensor, margin: float, negatives: str) -> torch.Tensor:
    """Bidirectional hinge loss over in-batch negatives; row ``i`` of both is a matching pair.

    ``negatives="all"`` sums the hinges over every negative (Kiros et al. 2014, the report's ranking
    objective); ``"hardest"`` keeps only the largest hinge per query (Faghri et al. 2018, VSE++).
    """
    scores = images @ texts.T
    positive = scores.diag()
    off = ~torch.eye(len(scores), dtype=torch.bool, device=scores.device)
    image_to_text = (margin - positive.unsqueeze(1) + scores).clamp(min=0) * off  # row: an image, negatives texts
    text_to_image = (margin - positive.unsqueeze(0) + scores).clamp(min=0) * off  # column: a text, negatives images
    if negatives == "hardest":
        return image_to_text.max(1).values.mean() + text_to_image.max(0).values.mean()
    return image_to_text.sum(1).mean() + text_to_image.sum(0).mean()


def recall_at_k(images: np.ndarray, texts: np.ndarray, ks=RECALL_AT) -> dict[str, float]:
    """Recall@k both ways for matching rows: ``i2t_r@k`` (image query) and ``t2i_r@k`` (text query), and
    their sum ``rsum``; ties are counted against the query (a pessimistic rank)."""
    scores = images @ texts.T
    positive = np.diag(scores)
    rank_i2t = (scores >= positive[:, None]).sum(1)  # 1 = the match scores highest
    rank_t2i = (scores >= positive[None, :]).sum(0)
    metrics = {}
    for k in ks:
        metrics[f"i2t_r@{k}"] = float((rank_i2t <= k).mean())
        metrics[f"t2i_r@{k}"] = float((rank_t2i <= k).mean())
    metrics["rsum"] = sum(metrics.values())
    metrics["i2t_median_rank"] = float(np.median(rank_i2t))
    metrics["t2i_median_rank"] = float(np.median(rank_t2i))
    return metrics


class BidirectionalRanking:
    """Image-sentence matching: outputs are ``(B, 2 * dim)`` (image embeddings, then sentence embeddings)."""

    name = "bidirectional_ranking"
    default_monitor = "rsum"
    monitor_modes = {"rsum": "max", **{f"{d}_r@{k}": "max" for d in ("i2t", "t2i") for k in RECALL_AT}}

    def __init__(self, margin: float = 0.2, negatives: str = "all"):
        if negatives not in NEGATIVES:
            raise ConfigError(f"BidirectionalRanking: negatives = {negatives!r}; use one of {', '.join(NEGATIVES)}")
        self.margin, self.negatives = margin, negatives

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        return ranking_loss(*_split_pairs(outputs, self.name), self.margin, self.negatives)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        half = y_pred.shape[1] // 2
        return recall_at_k(y_pred[:, :half], y_pred[:, half:])


class PairwisePreference:
    """Bradley-Terry on ``(B, 2)`` scores (the preferred response first): loss ``-log sigmoid(s_0 - s_1)``;
    accuracy is the share of pairs scored in the preferred order."""

    name = "pairwise_preference"
    default_monitor = "accuracy"
    monitor_modes = {"accuracy": "max", "logloss": "min"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        if outputs.dim() != 2 or outputs.shape[1] != 2:
            raise DataError(f"{self.name}: outputs must be (batch, 2) scores, got {tuple(outputs.shape)}")
        return -F.logsigmoid(outputs[:, 0] - outputs[:, 1]).mean()

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs[:, 0] - outputs[:, 1]

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        margin = torch.as_tensor(y_pred, dtype=torch.float64)
        return {"accuracy": float((margin > 0).double().mean()), "logloss": float(-F.logsigmoid(margin).mean())}


class MaskedLanguageModel:
    """Cross-entropy at masked positions: ``label`` holds the original id there and -100 elsewhere; the
    model returns scores ``(M, vocab)`` of the M masked positions in row-major order
    (:class:`mlpzoo.models.text.TinyMaskedLM`), so no vocabulary-wide scores are spent on the others."""

    name = "masked_language_model"
    default_monitor = "accuracy"
    monitor_modes = {"accuracy": "max"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        target = batch["label"][batch["label"].ne(-100)]
        if outputs.shape[0] != target.shape[0]:
            raise DataError(f"{self.name}: {outputs.shape[0]} scored positions but {target.shape[0]} masked labels")
        return F.cross_entropy(outputs, target)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.argmax(-1)

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        target = np.concatenate([row[row != -100] for row in y_true]) if len(y_true) else np.zeros(0)
        return {"accuracy": float((y_pred == target).mean()) if len(target) else float("nan")}
