"""A multi-label MLP head on an image backbone, as SwinCheX puts one on a Swin Transformer.

Taslimi, Taslimi, Fathi, Salehi and Rohban, "SwinCheX: Multi-label classification on chest X-ray images with
transformers", 2022, arXiv:2206.04246. The backbone's pooled features go through an MLP head of 1, 2 or 3
linear layers (ReLU between them) to one logit per label; the abstract reports that "a 3-layer head attains
state-of-the-art performance" (mean AUC 0.810 on Chest X-ray14).

``MultiLabelClassifier`` takes any registered backbone that has a ``head`` and ``num_features`` (the vision
models, ``resnet_cifar``): its classifier is replaced by the identity, so the backbone returns pooled
features. It reads ``batch["x"]`` (or a tensor) of images and returns ``(B, num_labels)`` logits.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mlp import MLP
from mlpzoo.registry import create_model, register_model

__all__ = ["MultiLabelClassifier", "PooledFeatures", "swinchex_head"]


class PooledFeatures(nn.Module):
    """The identity in place of a backbone's classifier, so the backbone returns its pooled features. It keeps an
    empty ``weight`` buffer, which moves with the model, because backbones check the input's device against it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.empty(0), persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class MultiLabelClassifier(nn.Module):
    """``backbone -> pooled features -> MLP head of head_layers linear layers -> num_labels logits``.

    Args:
        backbone: an image model with a ``head`` (replaced by the identity) and ``num_features``.
        num_labels: outputs, one logit per label. head_layers: linear layers in the head (1 = a linear classifier).
        hidden: width of the head's hidden layers. dropout: dropout after each hidden activation.
    """

    def __init__(
        self, backbone: nn.Module, num_labels: int, head_layers: int = 3, hidden: int = 256, dropout: float = 0.0
    ):
        super().__init__()
        if not hasattr(backbone, "head") or not hasattr(backbone, "num_features"):
            raise ConfigError(
                f"MultiLabelClassifier: backbone {type(backbone).__name__} has no head/num_features; use a vision "
                "model such as resnet_cifar or mixer"
            )
        if head_layers not in (1, 2, 3):
            raise ConfigError(
                f"MultiLabelClassifier: head_layers={head_layers}; SwinCheX's heads have 1, 2 or 3 layers"
            )
        backbone.head = PooledFeatures()
        self.backbone, self.num_labels, self.head_layers = backbone, num_labels, head_layers
        self.num_features = backbone.num_features
        self.head = MLP(self.num_features, [hidden] * (head_layers - 1), num_labels, dropout=dropout)

    def forward_features(self, batch) -> torch.Tensor:
        return self.backbone(batch)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, batch) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))


def _example() -> tuple[dict, tuple]:
    images = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    backbone = {"in_chans": 1, "depth": 8, "width": 4}
    return {"num_labels": 5, "head_layers": 3, "hidden": 8, "backbone_kwargs": backbone}, (images,)


@register_model("swinchex_head", family="vision", paper="swinchex", example=_example)
def swinchex_head(
    num_labels: int = 10,
    head_layers: int = 3,
    hidden: int = 256,
    backbone: str = "resnet_cifar",
    backbone_kwargs: dict | None = None,
    dropout: float = 0.0,
) -> MultiLabelClassifier:
    """SwinCheX's multi-label MLP head (3 layers unless ``head_layers`` says 1 or 2) on a registered ``backbone``."""
    return MultiLabelClassifier(
        create_model(backbone, **(backbone_kwargs or {})), num_labels, head_layers, hidden, dropout
    )
