"""Knowledge distillation from a strong teacher into MLP students: ScaleKD and Hinton's logit KD.

- ScaleKD: Fan, Li, Sun and Yao, "ScaleKD: Strong Vision Transformers Could Be Excellent Teachers",
  NeurIPS 2024, arXiv:2411.06786. Three coupled components, each a module or loss here:

  1. :class:`CrossAttentionProjector` (CAP) aligns the feature computing paradigms: the student's features,
     as tokens with a positional embedding, are the keys and values of a cross-attention whose queries are
     learnable, one per token of the teacher's feature map (our reading of the paper's projector), followed
     by a feed-forward layer; its output has the teacher's feature shape.
  2. Dual-view feature mimicking (:func:`dual_view_loss`): the projected student features mimic the teacher's
     in the spatial view (mean squared error) and in the frequency view, where both maps go through a 2-D DCT
     and the direct (zero-frequency) component is removed, so that the dominant component does not drown the
     other frequencies.
  3. Teacher parameter perception (TPP): a proxy path feeds the student's features, projected by a second CAP to
     the input shape of the teacher's last stage, through that frozen stage; the proxy path's features mimic the
     teacher's, so the student learns in the teacher's parameter space. The paper starts the proxy path from the
     student's early stages; here it starts from the student's last features, which keeps the students unchanged.

  The student's loss is its cross-entropy plus ``spatial_weight * L_spatial + frequency_weight * L_frequency +
  tpp_weight * L_tpp``.
- Logit KD: Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network", 2015, arXiv:1503.02531:
  cross-entropy plus ``alpha * T^2 * KL(softmax(t / T) || softmax(s / T))`` (:func:`hinton_loss`), the ablation
  ScaleKD is compared with. :mod:`mlpzoo.methods.distill` holds the graph-to-MLP losses (GLNN, FF-G2M), which are
  full-batch and temperature-free; the image losses here are separate.

Both wrappers are ``nn.Module`` s for the one Trainer: ``forward(batch)`` returns the student's logits (all that
evaluation sees) and ``regularization_loss(batch)``, which the Trainer adds to the task's loss, is the
distillation term. The teacher is frozen and stays in eval mode whatever the wrapper's mode.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mlp import MLP

__all__ = [
    "CrossAttentionProjector",
    "HintonKD",
    "ScaleKD",
    "TeacherStages",
    "dct_matrix",
    "dual_view_loss",
    "frequency_view",
    "hinton_loss",
    "as_tokens",
]


# ---------------------------------------------------------------------------- the pieces
def as_tokens(features: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Features as tokens ``(B, N, C)``: a vector ``(B, D)`` is one token; a map ``(B, H, W, C)`` (channels-last, the
    vision MLPs) or ``(B, C, H, W)`` (channels-first, the CNNs) is ``H * W`` tokens."""
    if features.dim() == 2:
        return features.unsqueeze(1)
    if features.dim() != 4:
        raise ConfigError(f"as_tokens: features of shape {tuple(features.shape)}; expected (B, D) or a 4-D map")
    if not channels_last:
        features = features.permute(0, 2, 3, 1)
    return features.flatten(1, 2)


class CrossAttentionProjector(nn.Module):
    """ScaleKD's CAP: student tokens ``(B, N_s, C_s)`` -> teacher-shaped tokens ``(B, N_t, C_t)``.

    ``q`` = learnable queries (one per teacher token); ``k = v = W s + p`` (student tokens plus a positional
    embedding); ``y = q + MHA(q, k, v)``; output ``y + FFN(LN(y))``.
    """

    def __init__(
        self, student_dim: int, student_tokens: int, teacher_dim: int, teacher_tokens: int, heads: int | None = None
    ):
        super().__init__()
        heads = heads or max(1, teacher_dim // 32)  # heads of 32 channels: more heads of a few channels cost time
        if teacher_dim % heads:
            raise ConfigError(f"CrossAttentionProjector: heads={heads} must divide the teacher's width {teacher_dim}")
        self.student_tokens = student_tokens
        self.key_value = nn.Linear(student_dim, teacher_dim)
        self.student_position = nn.Parameter(torch.randn(1, student_tokens, teacher_dim) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, teacher_tokens, teacher_dim) * 0.02)
        self.attention = nn.MultiheadAttention(teacher_dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(teacher_dim)
        self.ffn = MLP(teacher_dim, (2 * teacher_dim,), teacher_dim, activation="gelu")

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] != self.student_tokens:
            raise ConfigError(
                f"CrossAttentionProjector: {tokens.shape[1]} student tokens, built for {self.student_tokens}; "
                "build the projector for the student's feature shape"
            )
        kv = self.key_value(tokens) + self.student_position
        q = self.queries.expand(len(tokens), -1, -1)
        y = q + self.attention(q, kv, kv, need_weights=False)[0]
        return y + self.ffn(self.norm(y))


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``(n, n)``: ``D @ x`` transforms a length-``n`` signal."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    matrix = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix.float()


def frequency_view(maps: torch.Tensor) -> torch.Tensor:
    """2-D DCT of ``(B, C, H, W)`` maps with the direct (zero-frequency) component set to zero."""
    h, w = maps.shape[-2:]
    rows, cols = dct_matrix(h).to(maps), dct_matrix(w).to(maps)
    spectrum = rows @ maps @ cols.T
    mask = torch.ones(h, w, dtype=maps.dtype, device=maps.device)
    mask[0, 0] = 0.0
    return spectrum * mask


def dual_view_loss(student: torch.Tensor, teacher: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(spatial, frequency) mean squared errors between ``(B, C, H, W)`` student and teacher maps."""
    if student.shape != teacher.shape:
        raise ConfigError(
            f"dual_view_loss: student {tuple(student.shape)} and teacher {tuple(teacher.shape)} maps differ; "
            "project the student to the teacher's shape first"
        )
    return F.mse_loss(student, teacher), F.mse_loss(frequency_view(student), frequency_view(teacher))


def hinton_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over the batch."""
    return (
        F.kl_div(
            F.log_softmax(student_logits / temperature, -1),
            F.log_softmax(teacher_logits / temperature, -1),
            reduction="batchmean",
            log_target=True,
        )
        * temperature**2
    )


class TeacherStages(nn.Module):
    """A frozen CNN teacher cut before its last stage: ``early`` (stem and all earlier blocks), ``late`` (the
    last ``late_blocks`` blocks) and its classifier. Needs a teacher with ``stem``, ``blocks`` and ``forward_head``
    (the CIFAR ResNet)."""

    def __init__(self, teacher: nn.Module, late_blocks: int):
        super().__init__()
        if not all(hasattr(teacher, name) for name in ("stem", "blocks", "forward_head")):
            raise ConfigError(
                f"TeacherStages: {type(teacher).__name__} has no stem/blocks/forward_head; use a CNN teacher such "
                "as resnet_cifar"
            )
        if not 0 < late_blocks < len(teacher.blocks):
            raise ConfigError(f"TeacherStages: late_blocks={late_blocks} must lie in 1..{len(teacher.blocks) - 1}")
        self.early = nn.Sequential(teacher.stem, *teacher.blocks[:-late_blocks])
        self.late = nn.Sequential(*teacher.blocks[-late_blocks:])
        self.teacher = teacher
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "TeacherStages":
        return super().train(False)  # frozen: batch norm keeps its running statistics

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input of the last stage, last-stage features, logits), without gradients."""
        with torch.no_grad():
            hidden = self.early(x)
            features = self.late(hidden)
            return hidden, features, self.teacher.forward_head(features)


# ---------------------------------------------------------------------------- the two methods
class _Distiller(nn.Module):
    """Student plus frozen teacher; ``forward`` is the student's, ``regularization_loss`` the distillation."""

    def __init__(self, student: nn.Module, teacher: TeacherStages, channels_last: bool):
        super().__init__()
        if not all(hasattr(student, name) for name in ("forward_features", "forward_head")):
            raise ConfigError(f"{type(self).__name__}: the student needs forward_features and forward_head")
        self.student, self.teacher, self.channels_last = student, teacher, channels_last
        self._last: tuple | None = None

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        features = self.student.forward_features(x)
        logits = self.student.forward_head(features)
        self._last = (x, features, logits) if self.training else None
        return logits

    def regularization_loss(self, batch) -> torch.Tensor:
        if self._last is None:
            raise ConfigError(f"{type(self).__name__}.regularization_loss needs a training forward on the batch first")
        x, features, logits = self._last
        self._last = None
        return self.distillation_loss(x, features, logits)

    def distillation_loss(self, x, features, logits) -> torch.Tensor:
        raise NotImplementedError


class HintonKD(_Distiller):
    """Logit distillation: the Trainer's cross-entropy plus ``alpha * T^2 * KL`` to the teacher's softened logits.

    Args: student, teacher; alpha: weight of the KD term (0.9); temperature: T (4), CRD's KD baseline settings.
    """

    def __init__(self, student: nn.Module, teacher: TeacherStages, alpha: float = 0.9, temperature: float = 4.0):
        super().__init__(student, teacher, channels_last=True)
        self.alpha, self.temperature = alpha, temperature

    def distillation_loss(self, x, features, logits) -> torch.Tensor:
        _, _, teacher_logits = self.teacher(x)
        return self.alpha * hinton_loss(logits, teacher_logits, self.temperature)


class ScaleKD(_Distiller):
    """ScaleKD: CAP + dual-view feature mimicking + teacher parameter perception (see the module docstring).

    Args:
        student: a model with ``forward_features`` / ``forward_head``. teacher: :class:`TeacherStages`.
        example: one input image batch, to read the feature shapes of student and teacher.
        channels_last: whether the student's 4-D features are ``(B, H, W, C)`` (the vision MLPs).
        spatial_weight, frequency_weight, tpp_weight: the loss weights (1 each).
        heads: CAP's attention heads (default one per 32 teacher channels).
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: TeacherStages,
        example: torch.Tensor,
        channels_last: bool = True,
        spatial_weight: float = 1.0,
        frequency_weight: float = 1.0,
        tpp_weight: float = 1.0,
        heads: int | None = None,
    ):
        super().__init__(student, teacher, channels_last)
        self.weights = {"spatial": spatial_weight, "frequency": frequency_weight, "tpp": tpp_weight}
        with torch.no_grad():
            was_training = student.training
            student.eval()
            tokens = as_tokens(student.forward_features(example[:1]), channels_last)
            student.train(was_training)
            hidden, features, _ = teacher(example[:1])
        self.feature_shape, self.hidden_shape = tuple(features.shape[1:]), tuple(hidden.shape[1:])
        n, c = tokens.shape[1:]
        self.feature_projector = CrossAttentionProjector(c, n, features.shape[1], features[0, 0].numel(), heads)
        self.proxy_projector = CrossAttentionProjector(c, n, hidden.shape[1], hidden[0, 0].numel(), heads)

    @staticmethod
    def _as_map(tokens: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
        return tokens.transpose(1, 2).reshape(len(tokens), *shape)

    def losses(self, x: torch.Tensor, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three ScaleKD terms (unweighted) for images ``x`` and the student's ``features`` of them."""
        _, teacher_features, _ = self.teacher(x)
        tokens = as_tokens(features, self.channels_last)
        projected = self._as_map(self.feature_projector(tokens), self.feature_shape)
        spatial, frequency = dual_view_loss(projected, teacher_features)
        proxy_input = self._as_map(self.proxy_projector(tokens), self.hidden_shape)
        proxy_features = self.teacher.late(proxy_input)  # frozen weights; gradients reach the student through them
        return {"spatial": spatial, "frequency": frequency, "tpp": F.mse_loss(proxy_features, teacher_features)}

    def distillation_loss(self, x, features, logits) -> torch.Tensor:
        return sum(self.weights[name] * value for name, value in self.losses(x, features).items())
