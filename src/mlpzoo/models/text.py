"""Text models: an image-text matcher, ArmoRM's reward head and gate, and a masked LM with an MLP or a prompt head.

- :class:`ImageTextMatcher`: "Deep Learning Applied to Image and Text Matching" (2015; one-author
  project report, no arXiv id): a convolutional image tower and a bag-of-words / n-gram MLP text
  tower embed an image and a sentence into one space where a cosine score ranks them; trained with
  a bidirectional ranking loss (:class:`mlpzoo.tasks.text.BidirectionalRanking`).
- :class:`MultiObjectiveRewardHead` and :class:`GatedRewardMixer`: Wang, Xiong, Xie, Zhao & Zhang,
  "Interpretable Preferences via Multi-Objective Reward Modeling and Mixture-of-Experts", 2024,
  arXiv:2406.12845 (ArmoRM). Stage 1 regresses one absolute rating per objective from a frozen
  embedding of (prompt, response); stage 2 a gating MLP reads the prompt alone and mixes the
  objectives into one reward, trained with the Bradley-Terry loss on preference pairs.
- :class:`TinyMaskedLM` and :class:`MaskedLMClassifier`: Raman, Maini, Kolter, Lipton & Pruthi,
  "Model-tuning Via Prompts Makes NLP Models Adversarially Robust", EMNLP 2023, arXiv:2303.07320
  (MVP). MLP-FT puts a randomly initialised MLP on the first ([cls]) hidden state; MVP appends a
  template with a [mask] and classifies by the masked LM's scores of one label word per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.mlp import MLP, check_features
from mlpzoo.layers.towers import BagOfNgramsTower, ConvImageTower, ObjectiveGate
from mlpzoo.registry import register_model

__all__ = [
    "GatedRewardMixer",
    "ImageTextMatcher",
    "MaskedLMClassifier",
    "MultiObjectiveRewardHead",
    "TinyMaskedLM",
]


# ------------------------------------------------------------------------------------ image-text matching
class ImageTextMatcher(nn.Module):
    """Image and sentence embedded into one ``joint_dim`` space, both L2-normalised (cosine scores).

    ``forward(batch)`` takes ``{"images": (B, 3, H, W) float, "tokens": (B, L) n-gram ids}`` (or the two
    tensors) and returns ``(B, 2 * joint_dim)``: the image embeddings, then the sentence embeddings.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 300,
        text_hidden: Sequence[int] = (512,),
        image_channels: Sequence[int] = (32, 64, 128),
        joint_dim: int = 256,
    ):
        super().__init__()
        self.joint_dim = joint_dim
        self.image_tower = ConvImageTower(3, image_channels, joint_dim)
        self.text_tower = BagOfNgramsTower(vocab_size, embed_dim, text_hidden, joint_dim)

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_tower(images), dim=-1)

    def embed_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_tower(tokens), dim=-1)

    def forward(self, batch, tokens: torch.Tensor | None = None) -> torch.Tensor:
        images = batch["images"] if isinstance(batch, dict) else batch
        tokens = batch["tokens"] if isinstance(batch, dict) else tokens
        return torch.cat([self.embed_images(images), self.embed_text(tokens)], dim=-1)


def _matcher_example():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 3, 16, 16, generator=g)
    tokens = torch.randint(1, 30, (3, 5), generator=g)
    return {"vocab_size": 30, "embed_dim": 8, "text_hidden": [16], "image_channels": [4, 8], "joint_dim": 8}, (
        images,
        tokens,
    )


@register_model("image_text_matcher", family="text", paper="img-text-match", example=_matcher_example)
def image_text_matcher(vocab_size: int, **kwargs) -> ImageTextMatcher:
    return ImageTextMatcher(vocab_size, **kwargs)


# ------------------------------------------------------------------------------------ ArmoRM
class MultiObjectiveRewardHead(nn.Module):
    """Stage 1 of ArmoRM: frozen (prompt, response) features ``(B, D)`` -> one absolute rating per objective.

    The paper fits a linear probe on Llama-3 8B's last hidden state; on a 384-wide sentence encoder we
    keep ``hidden_units`` (default one layer of 256) so interactions of prompt and response are expressible.
    """

    def __init__(self, in_features: int, objectives: int, hidden_units: Sequence[int] = (256,)):
        super().__init__()
        self.in_features = in_features
        self.mlp = MLP(in_features, hidden_units, objectives)

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        check_features(x, self.in_features, "MultiObjectiveRewardHead", next(self.parameters()), "features")
        return self.mlp(x)


class GatedRewardMixer(nn.Module):
    """Stage 2 of ArmoRM: ``score = beta * sum_k g_k(prompt) r_k`` for the ratings of two responses.

    ``forward(batch)`` takes ``{"prompt": (B, D), "ratings": (B, 2, K)}`` (the chosen response's ratings
    first) and returns ``(B, 2)`` scores; the Bradley-Terry loss reads their difference. ``beta`` is the
    learned scale of the paper's loss, starting at ``beta_init``: with ratings in [0, 1] a start at 1 caps
    every margin at one logit, where the loss is lowest with all weight on the single most useful objective
    and the softmax saturates there (seen: the gate collapsed onto one objective even when fed the true
    ratings); a start at 10 puts margins in the logistic's working range. ``gate_hidden`` empty: one learned
    weight vector for every prompt.
    """

    def __init__(
        self, prompt_dim: int, objectives: int, gate_hidden: Sequence[int] = (256, 256), beta_init: float = 10.0
    ):
        super().__init__()
        if not beta_init > 0:
            raise ConfigError(f"GatedRewardMixer: beta_init = {beta_init} must be positive")
        self.objectives = objectives
        self.gate = ObjectiveGate(prompt_dim, objectives, gate_hidden)
        self.log_beta = nn.Parameter(torch.tensor(float(beta_init)).log())

    def weights(self, prompt: torch.Tensor) -> torch.Tensor:
        return self.gate(prompt)

    def forward(self, batch, ratings: torch.Tensor | None = None) -> torch.Tensor:
        prompt = batch["prompt"] if isinstance(batch, dict) else batch
        ratings = batch["ratings"] if isinstance(batch, dict) else ratings
        if ratings.dim() != 3 or ratings.shape[-1] != self.objectives:
            raise DataError(
                f"GatedRewardMixer: ratings must be (batch, responses, {self.objectives}), got {tuple(ratings.shape)}"
            )
        mixed = (self.weights(prompt).unsqueeze(1) * ratings).sum(-1)
        return self.log_beta.exp() * mixed


def _ratings_example():
    x = torch.randn(3, 12, generator=torch.Generator().manual_seed(0))
    return {"in_features": 12, "objectives": 4, "hidden_units": [8]}, (x,)


def _gate_example(hidden):
    def example():
        g = torch.Generator().manual_seed(0)
        prompt, ratings = torch.randn(3, 6, generator=g), torch.randn(3, 2, 4, generator=g)
        return {"prompt_dim": 6, "objectives": 4, "gate_hidden": hidden}, (prompt, ratings)

    return example


@register_model("armorm_ratings", family="text", paper="armorm", example=_ratings_example)
def armorm_ratings(in_features: int, objectives: int, **kwargs) -> MultiObjectiveRewardHead:
    return MultiObjectiveRewardHead(in_features, objectives, **kwargs)


@register_model("armorm_gate", family="text", paper="armorm", example=_gate_example([8]))
def armorm_gate(prompt_dim: int, objectives: int, **kwargs) -> GatedRewardMixer:
    return GatedRewardMixer(prompt_dim, objectives, **kwargs)


@register_model("armorm_fixed_weights", family="text", paper="armorm", example=_gate_example([]))
def armorm_fixed_weights(prompt_dim: int, objectives: int, **kwargs) -> GatedRewardMixer:
    """Learned objective weights shared by every prompt (the gate without its MLP)."""
    return GatedRewardMixer(prompt_dim, objectives, **{**kwargs, "gate_hidden": []})


# ------------------------------------------------------------------------------------ MVP
def _tokens(batch) -> torch.Tensor:
    tokens = batch["tokens"] if isinstance(batch, dict) else batch
    if tokens.dim() != 2 or tokens.dtype != torch.long:
        raise DataError(f"expected token ids (batch, length) of dtype long, got {tuple(tokens.shape)} {tokens.dtype}")
    return tokens


class TinyMaskedLM(nn.Module):
    """A BERT-shaped masked language model at toy scale: token + learned position embeddings, post-norm
    Transformer encoder layers (GELU), and BERT's MLM head (dense, GELU, LayerNorm, decoder tied to the
    token embeddings). Id 0 pads and is masked out of attention.
    """

    def __init__(self, vocab_size: int, dim: int = 128, depth: int = 2, heads: int = 4, max_len: int = 64):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"TinyMaskedLM: heads = {heads} must divide dim = {dim}")
        self.vocab_size, self.dim, self.max_len = vocab_size, dim, max_len
        self.token_embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, dim)
        self.embedding_norm = nn.LayerNorm(dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, 0.1, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.mlm_transform = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim))
        self.mlm_bias = nn.Parameter(torch.zeros(vocab_size))
        for embedding in (self.token_embedding, self.position_embedding):
            nn.init.normal_(embedding.weight, std=0.02)

    def forward_features(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] > self.max_len:
            raise DataError(f"TinyMaskedLM: {tokens.shape[1]} tokens exceed max_len {self.max_len}; cut the text")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        hidden = self.embedding_norm(self.token_embedding(tokens) + self.position_embedding(positions))
        return self.encoder(hidden, src_key_padding_mask=tokens.eq(0))

    def mlm_logits(self, hidden: torch.Tensor, vocabulary: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every token (or of the ids in ``vocabulary``) at each hidden state."""
        transformed = self.mlm_transform(hidden)
        if vocabulary is None:
            return transformed @ self.token_embedding.weight.T + self.mlm_bias
        return transformed @ self.token_embedding.weight[vocabulary].T + self.mlm_bias[vocabulary]

    def forward(self, batch) -> torch.Tensor:
        """Scores ``(B, L, vocab)`` of every position; for a batch dict with a ``label`` (-100 where nothing is
        masked) only the masked positions' scores ``(M, vocab)``, in row-major order (what the loss reads)."""
        hidden = self.forward_features(_tokens(batch))
        if isinstance(batch, dict) and "label" in batch:
            hidden = hidden[batch["label"].ne(-100)]
        return self.mlm_logits(hidden)


HEADS = ("mlp", "prompt")


class MaskedLMClassifier(nn.Module):
    """A masked LM adapted to classification with one of two heads.

    - ``head="mlp"`` (MLP-FT): ``MLP([cls] hidden state)`` with a tanh hidden layer (BERT's classification
      head), randomly initialised; the MLM head is not used.
    - ``head="prompt"`` (MVP): the input ends with a template holding ``mask_id``; the class logits are the
      MLM scores of the ``verbalizer`` ids (one label word per class) at that position. No new parameters.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        head: str = "prompt",
        verbalizer: Sequence[int] = (),
        mask_id: int = 2,
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        max_len: int = 64,
    ):
        super().__init__()
        if head not in HEADS:
            raise ConfigError(f"MaskedLMClassifier: head = {head!r}; use one of {', '.join(HEADS)}")
        if head == "prompt" and len(verbalizer) != num_classes:
            raise ConfigError(
                f"MaskedLMClassifier: the prompt head needs one verbalizer id per class ({num_classes}), "
                f"got {len(verbalizer)}"
            )
        self.head, self.mask_id = head, mask_id
        self.lm = TinyMaskedLM(vocab_size, dim, depth, heads, max_len)
        self.register_buffer("verbalizer", torch.tensor(list(verbalizer), dtype=torch.long), persistent=False)
        if head == "mlp":
            self.classifier = MLP(dim, [dim], num_classes, activation="tanh", dropout=0.1)
            self.lm.mlm_transform = None  # MLP-FT discards the MLM head
            self.lm.mlm_bias = None

    def forward(self, batch) -> torch.Tensor:
        tokens = _tokens(batch)
        hidden = self.lm.forward_features(tokens)
        if self.head == "mlp":
            return self.classifier(hidden[:, 0])
        is_mask = tokens.eq(self.mask_id)
        if not bool(is_mask.any(1).all()):
            raise DataError(f"MaskedLMClassifier (prompt head): a row holds no mask token (id {self.mask_id})")
        position = is_mask.float().argmax(1)  # the first mask of each row
        at_mask = hidden[torch.arange(len(tokens), device=tokens.device), position]
        return self.lm.mlm_logits(at_mask, self.verbalizer)


def _mlm_example():
    tokens = torch.randint(3, 20, (3, 6), generator=torch.Generator().manual_seed(0))
    return {"vocab_size": 20, "dim": 8, "depth": 1, "heads": 2, "max_len": 8}, (tokens,)


def _classifier_example(head):
    def example():
        tokens = torch.randint(3, 20, (3, 6), generator=torch.Generator().manual_seed(0))
        tokens[:, -2] = 2
        kwargs = {"vocab_size": 20, "num_classes": 3, "verbalizer": [5, 6, 7], "dim": 8, "depth": 1, "heads": 2}
        return {**kwargs, "max_len": 8}, (tokens,)

    return example


@register_model("tiny_mlm", family="text", paper="mvp", example=_mlm_example)
def tiny_mlm(vocab_size: int, **kwargs) -> TinyMaskedLM:
    return TinyMaskedLM(vocab_size, **kwargs)


@register_model("mvp_prompt", family="text", paper="mvp", example=_classifier_example("prompt"))
def mvp_prompt(vocab_size: int, num_classes: int, **kwargs) -> MaskedLMClassifier:
    return MaskedLMClassifier(vocab_size, num_classes, head="prompt", **kwargs)


@register_model("mvp_mlp_ft", family="text", paper="mvp", example=_classifier_example("mlp"))
def mvp_mlp_ft(vocab_size: int, num_classes: int, **kwargs) -> MaskedLMClassifier:
    return MaskedLMClassifier(vocab_size, num_classes, head="mlp", **kwargs)
