"""Mowst: a mixture of a weak MLP expert and a strong GNN expert, gated by the MLP's confidence.

Paper: Zeng, Lyu, Hu, Xia & Luo, "Mixture of Weak & Strong Experts on Graphs", ICLR 2024,
arXiv:2311.05185 (code: github.com/facebookresearch/mowst-gnn).

- Confidence: the dispersion of the weak expert's softmax, two features per node: its variance
  divided by the variance of a one-hot vector, and ``1 - entropy / log(C)`` (both in [0, 1]),
  computed without gradient as in the reference code; a small gate MLP maps them (optionally
  with the node's features) to ``g in (0, 1)``, the weight of the weak expert.
- Losses: ``separate`` = ``mean(g * CE(weak) + (1 - g) * CE(strong))`` (Mowst); ``joint`` =
  ``CE(g * weak_logits + (1 - g) * strong_logits)`` (Mowst*).
- Training: both experts are pre-trained alone (the code's ``pretrain_both``; with only the GNN
  pre-trained, ``pretrain=("strong",)``, the gate learns to send every node to the GNN before
  the MLP has learnt anything), then the two sides alternate: some epochs on the weak expert and the gate with the GNN
  frozen, then
  some on the GNN with the weak expert and gate frozen. The state with the best validation
  accuracy is kept. Each side has its own Adam weight decay (the MLP's is usually the larger:
  GLNN uses 5e-3 for Cora's MLP against 1e-3 for its GCN).
- Inference: ``mixture`` mixes the two softmax outputs with weight ``g``; ``sampled`` draws
  ``Bernoulli(g)`` per node and takes that expert's prediction (the code's ``multi`` mode).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mlp import MLP
from mlpzoo.train.full_batch import FitConfig, accuracy, cross_entropy_on, fit_full_batch

__all__ = ["LOSSES", "INFERENCE", "ConfidenceGate", "Mowst", "MowstConfig", "dispersion", "fit_mowst", "mowst_loss"]

LOSSES = ("separate", "joint")
INFERENCE = ("mixture", "sampled")


def dispersion(logits: torch.Tensor) -> torch.Tensor:
    """(N, 2): normalised variance and negative normalised entropy of ``softmax(logits)``."""
    num_classes = logits.shape[-1]
    probs = logits.softmax(-1)
    max_variance = (1.0 / num_classes) * (1.0 - 1.0 / num_classes)  # variance of a one-hot vector
    variance = probs.var(-1, unbiased=False) / max_variance
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1)
    return torch.stack([variance, 1.0 - entropy / math.log(num_classes)], dim=-1)


class ConfidenceGate(nn.Module):
    """``sigmoid(MLP([dispersion, x?]))``: the weight of the weak expert per node."""

    def __init__(self, hidden: int = 64, num_layers: int = 2, in_features: int = 0, dropout: float = 0.0):
        super().__init__()
        self.use_features = in_features > 0
        self.net = MLP(2 + in_features, [hidden] * (num_layers - 1), 1, dropout=dropout, batch_norm=True)

    def forward(self, weak_logits: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        features = dispersion(weak_logits.detach())
        if self.use_features:
            features = torch.cat([features, x.to_dense() if x.layout != torch.strided else x], dim=-1)
        return torch.sigmoid(self.net(features)).view(-1)


class Mowst(nn.Module):
    """Weak expert ``weak(x)``, strong expert ``strong(x, adj)`` and a :class:`ConfidenceGate`."""

    def __init__(self, weak: nn.Module, strong: nn.Module, gate: ConfidenceGate):
        super().__init__()
        self.weak, self.strong, self.gate = weak, strong, gate

    def forward(self, x, adj) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        weak_logits = self.weak(x)
        return weak_logits, self.strong(x, adj), self.gate(weak_logits, x)

    @torch.no_grad()
    def predict_proba(self, x, adj, mode: str = "mixture", generator: torch.Generator | None = None) -> torch.Tensor:
        if mode not in INFERENCE:
            raise ConfigError(f"unknown Mowst inference mode {mode!r}; use one of {', '.join(INFERENCE)}")
        self.eval()
        weak_logits, strong_logits, g = self(x, adj)
        weak, strong = weak_logits.softmax(-1), strong_logits.softmax(-1)
        if mode == "sampled":
            pick = torch.rand(g.shape, generator=generator) < g
            g = pick.float()
        return g[:, None] * weak + (1 - g[:, None]) * strong


def mowst_loss(weak_logits, strong_logits, gate, y, index, kind: str = "separate") -> torch.Tensor:
    if kind == "separate":
        weak = F.cross_entropy(weak_logits[index], y[index], reduction="none")
        strong = F.cross_entropy(strong_logits[index], y[index], reduction="none")
        return (gate[index] * weak + (1 - gate[index]) * strong).mean()
    if kind == "joint":
        g = gate[index, None]
        return F.cross_entropy(g * weak_logits[index] + (1 - g) * strong_logits[index], y[index])
    raise ConfigError(f"unknown Mowst loss {kind!r}; use one of {', '.join(LOSSES)}")


@dataclass
class MowstConfig:
    """Adam lr / weight decay (GLNN's GCN settings), alternation and early stopping.

    ``weight_decay`` applies to the strong expert; ``weak_weight_decay`` to the weak expert and the
    gate (None: the same as ``weight_decay``)."""

    loss: str = "separate"
    lr: float = 0.01
    weight_decay: float = 5e-4
    weak_weight_decay: float | None = None
    pretrain: tuple[str, ...] = ("weak", "strong")
    pretrain_epochs: int = 500
    epochs_per_phase: int = 10
    max_rounds: int = 20
    patience: int = 100


def fit_mowst(model: Mowst, x, adj, y, train_index, val_index, config: MowstConfig) -> dict:
    """Pre-train the GNN, then alternate weak+gate / GNN phases (see the module docstring)."""
    if config.loss not in LOSSES:
        raise ConfigError(f"unknown Mowst loss {config.loss!r}; use one of {', '.join(LOSSES)}")
    decay = {
        "weak": config.weight_decay if config.weak_weight_decay is None else config.weak_weight_decay,
        "strong": config.weight_decay,
    }
    pre_epochs = {}
    if "weak" in config.pretrain:
        pre_epochs["weak"] = fit_full_batch(
            model.weak,
            lambda: model.weak(x),
            cross_entropy_on(train_index, y),
            y,
            val_index,
            FitConfig(config.lr, decay["weak"], config.pretrain_epochs, config.patience),
        ).epochs
    if "strong" in config.pretrain:
        pre_epochs["strong"] = fit_full_batch(
            model.strong,
            lambda: model.strong(x, adj),
            cross_entropy_on(train_index, y),
            y,
            val_index,
            FitConfig(config.lr, decay["strong"], config.pretrain_epochs, config.patience),
        ).epochs
    weak_side = list(model.weak.parameters()) + list(model.gate.parameters())
    optimizers = {
        "weak": torch.optim.Adam(weak_side, lr=config.lr, weight_decay=decay["weak"]),
        "strong": torch.optim.Adam(model.strong.parameters(), lr=config.lr, weight_decay=decay["strong"]),
    }
    best, state, wait, epochs = -1.0, None, 0, 0
    for _ in range(config.max_rounds):
        for side in ("weak", "strong"):
            for _ in range(config.epochs_per_phase):
                model.eval()
                trained = model.strong if side == "strong" else nn.ModuleList([model.weak, model.gate])
                trained.train()
                optimizers[side].zero_grad()
                if side == "weak":
                    with torch.no_grad():
                        strong_logits = model.strong(x, adj)
                    weak_logits = model.weak(x)
                    gate = model.gate(weak_logits, x)
                else:
                    with torch.no_grad():
                        weak_logits = model.weak(x)
                        gate = model.gate(weak_logits, x)
                    strong_logits = model.strong(x, adj)
                mowst_loss(weak_logits, strong_logits, gate, y, train_index, config.loss).backward()
                optimizers[side].step()
                epochs += 1
                val = accuracy(model.predict_proba(x, adj), y, val_index)
                if val >= best:
                    best, state, wait = val, copy.deepcopy(model.state_dict()), 0
                else:
                    wait += 1
        if wait >= config.patience:
            break
    model.load_state_dict(state)
    model.eval()
    return {"best_val_acc": best, "epochs": epochs, "pretrain_epochs": pre_epochs}
