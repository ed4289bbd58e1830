"""Sequence models: the Mamba language model, a causal Transformer baseline, and small forecasters.

- Mamba: Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
  arXiv:2312.00752 (catalog id ``mamba``). ``MambaLM`` is the official ``MambaLMHeadModel``
  shape: embedding, ``n_layer`` pre-norm residual blocks ``x + Mixer(RMSNorm(x))`` around
  :class:`~mlpzoo.layers.ssm.MambaMixer`, a final RMSNorm and an output head tied to the
  embedding, with the official initialisation (embeddings N(0, 0.02), linear biases zero,
  ``out_proj`` rescaled by ``1/sqrt(n_layer)``). ``mamba_lti`` is the paper's LTI ablation
  (``delta, B, C`` not input-dependent).
- ``transformer_lm``: the causal Transformer baseline (pre-norm ``nn.TransformerEncoderLayer``
  blocks with a causal mask, sinusoidal absolute positions so it runs at any length, tied head).
- Forecasters for the ATM-cash paper (Vangala & Ravi, "ATM cash demand forecasting in an
  Indian bank with chaos and deep learning", 2020, arXiv:2008.10365, catalog id ``atm-chaos``): an LSTM and a 1D-CNN
  reading ``batch["x"]`` of shape ``(B, steps, channels)`` and returning ``(B,)`` (the
  regression contract of :mod:`mlpzoo.tasks`). The MLP of that paper is the registered ``mlp``.

Language models read ``batch["tokens"]`` (or a ``(B, L)`` tensor) and return logits ``(B, L, vocab)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.ssm import DEFAULT_CHUNK, MambaMixer, MambaState
from mlpzoo.registry import register_model

__all__ = ["CNN1DForecaster", "LSTMForecaster", "MambaLM", "TransformerLM"]


def _tokens(batch) -> torch.Tensor:
    tokens = batch["tokens"] if isinstance(batch, dict) else batch
    if tokens.dim() != 2:
        raise ConfigError(f"language models expect tokens of shape (batch, length); got {tuple(tokens.shape)}")
    return tokens


class MambaLM(nn.Module):
    """Token embedding -> ``n_layer`` Mamba blocks -> RMSNorm -> tied LM head.

    Args:
        vocab_size, d_model, n_layer: sizes. mixer kwargs (d_state 16, d_conv 4, expand 2,
        selective True, chunk_size) go to :class:`MambaMixer`. norm_eps: RMSNorm epsilon (1e-5).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_layer: int = 2,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        selective: bool = True,
        chunk_size: int = DEFAULT_CHUNK,
        norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.norms = nn.ModuleList(nn.RMSNorm(d_model, eps=norm_eps) for _ in range(n_layer))
        self.mixers = nn.ModuleList(
            MambaMixer(d_model, d_state, d_conv, expand, selective=selective, chunk_size=chunk_size)
            for _ in range(n_layer)
        )
        self.norm_f = nn.RMSNorm(d_model, eps=norm_eps)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.embedding.weight
        self._init_weights(n_layer)

    def _init_weights(self, n_layer: int) -> None:
        nn.init.normal_(self.embedding.weight, std=0.02)
        for module in self.modules():
            if (
                isinstance(module, nn.Linear)
                and module.bias is not None
                and not getattr(module.bias, "_no_reinit", False)
            ):
                nn.init.zeros_(module.bias)
        for mixer in self.mixers:  # GPT-2 style rescaling of the residual branch's last projection
            nn.init.kaiming_uniform_(mixer.out_proj.weight, a=math.sqrt(5))
            with torch.no_grad():
                mixer.out_proj.weight /= math.sqrt(n_layer)

    def forward(self, batch) -> torch.Tensor:
        hidden = self.embedding(_tokens(batch))
        for norm, mixer in zip(self.norms, self.mixers):
            hidden = hidden + mixer(norm(hidden))
        return self.lm_head(self.norm_f(hidden))

    def allocate_state(self, batch_size: int) -> list[MambaState]:
        return [mixer.allocate_state(batch_size) for mixer in self.mixers]

    def step(self, tokens: torch.Tensor, state: list[MambaState]) -> tuple[torch.Tensor, list[MambaState]]:
        """Recurrent generation: one token per row ``(B,)`` -> logits ``(B, vocab)`` and the new state."""
        hidden = self.embedding(tokens)
        new_state = []
        for norm, mixer, layer_state in zip(self.norms, self.mixers, state):
            out, layer_state = mixer.step(norm(hidden), layer_state)
            hidden = hidden + out
            new_state.append(layer_state)
        return self.lm_head(self.norm_f(hidden)), new_state


def sinusoidal_positions(length: int, dim: int, device=None) -> torch.Tensor:
    """The fixed sin/cos position table of "Attention Is All You Need", ``(length, dim)``."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class TransformerLM(nn.Module):
    """Causal Transformer: embedding + sinusoidal positions, pre-norm blocks (GELU MLP of 4x width),
    final LayerNorm, tied head. ``n_head`` must divide ``d_model``.

    Embeddings start N(0, 1/d_model) and are scaled by sqrt(d_model) (Vaswani et al., 2017, section
    3.4), so tokens and positions enter at the same unit scale; with N(0, 0.02) the positions drown
    the tokens and the model does not learn induction heads (accuracy at chance after 2,000 steps)."""

    def __init__(self, vocab_size: int, d_model: int = 64, n_layer: int = 2, n_head: int = 4, dropout: float = 0.0):
        super().__init__()
        if d_model % n_head:
            raise ConfigError(f"transformer_lm: n_head = {n_head} must divide d_model = {d_model}")
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        layer = nn.TransformerEncoderLayer(
            d_model, n_head, 4 * d_model, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, n_layer, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.embedding.weight

    def forward(self, batch) -> torch.Tensor:
        tokens = _tokens(batch)
        length = tokens.shape[1]
        hidden = self.embedding(tokens) * math.sqrt(self.d_model) + sinusoidal_positions(
            length, self.d_model, tokens.device
        )
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=tokens.device)
        return self.lm_head(self.blocks(hidden, mask=mask, is_causal=True))


def _series(batch) -> torch.Tensor:
    x = batch["x"] if isinstance(batch, dict) else batch
    if x.dim() == 2:  # (B, steps): one channel
        x = x.unsqueeze(-1)
    if x.dim() != 3:
        raise ConfigError(f"forecasters expect x of shape (batch, steps, channels); got {tuple(x.shape)}")
    return x


class LSTMForecaster(nn.Module):
    """LSTM over the input steps; a linear head on the last hidden state predicts one value."""

    def __init__(self, in_channels: int = 1, hidden: int = 64, num_layers: int = 1):
        super().__init__()
        self.lstm = nn.LSTM(in_channels, hidden, num_layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, batch) -> torch.Tensor:
        out, _ = self.lstm(_series(batch))
        return self.head(out[:, -1]).squeeze(-1)


class CNN1DForecaster(nn.Module):
    """``Conv1d(kernel) -> ReLU -> flatten -> Linear(dense) -> ReLU -> Linear(1)`` over the input steps."""

    def __init__(self, in_channels: int = 1, steps: int = 7, channels: int = 64, kernel_size: int = 2, dense: int = 50):
        super().__init__()
        if steps < 1:
            raise ConfigError(f"cnn1d_forecaster: steps = {steps} must be at least 1")
        kernel = min(kernel_size, steps)
        self.steps = steps
        self.conv = nn.Conv1d(in_channels, channels, kernel)
        self.head = nn.Sequential(
            nn.ReLU(), nn.Flatten(), nn.Linear(channels * (steps - kernel + 1), dense), nn.ReLU(), nn.Linear(dense, 1)
        )

    def forward(self, batch) -> torch.Tensor:
        x = _series(batch)
        if x.shape[1] != self.steps:
            raise ConfigError(f"cnn1d_forecaster was built for {self.steps} steps; got x with {x.shape[1]}")
        return self.head(self.conv(x.transpose(1, 2))).squeeze(-1)


def _mamba_example() -> tuple[dict, tuple]:
    """Two sequences of 6 tokens, scanned in chunks of 4 so a chunk boundary is crossed."""
    tokens = torch.randint(0, 11, (2, 6), generator=torch.Generator().manual_seed(0))
    return {"vocab_size": 11, "d_model": 8, "n_layer": 2, "d_state": 4, "chunk_size": 4}, (tokens,)


def _transformer_example() -> tuple[dict, tuple]:
    tokens = torch.randint(0, 11, (2, 6), generator=torch.Generator().manual_seed(0))
    return {"vocab_size": 11, "d_model": 8, "n_layer": 2, "n_head": 2}, (tokens,)


def _lstm_example() -> tuple[dict, tuple]:
    series = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(0))
    return {"in_channels": 2, "hidden": 8}, (series,)


def _cnn1d_example() -> tuple[dict, tuple]:
    series = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(0))
    return {"in_channels": 2, "steps": 5, "channels": 4, "dense": 6}, (series,)


@register_model("mamba", family="sequence", paper="mamba", example=_mamba_example)
def mamba(
    vocab_size: int = 16,
    d_model: int = 64,
    n_layer: int = 2,
    d_state: int = 16,
    d_conv: int = 4,
    expand: int = 2,
    chunk_size: int = DEFAULT_CHUNK,
) -> MambaLM:
    """Mamba LM with the selective SSM (S6)."""
    return MambaLM(vocab_size, d_model, n_layer, d_state, d_conv, expand, True, chunk_size)


@register_model("mamba_lti", family="sequence", paper="mamba", example=_mamba_example)
def mamba_lti(
    vocab_size: int = 16,
    d_model: int = 64,
    n_layer: int = 2,
    d_state: int = 16,
    d_conv: int = 4,
    expand: int = 2,
    chunk_size: int = DEFAULT_CHUNK,
) -> MambaLM:
    """The paper's LTI ablation: the Mamba architecture with time-invariant ``delta, B, C`` (S4D-real-like)."""
    return MambaLM(vocab_size, d_model, n_layer, d_state, d_conv, expand, False, chunk_size)


@register_model("transformer_lm", family="sequence", paper="mamba", example=_transformer_example)
def transformer_lm(vocab_size: int = 16, d_model: int = 64, n_layer: int = 2, n_head: int = 4) -> TransformerLM:
    """Causal Transformer baseline."""
    return TransformerLM(vocab_size, d_model, n_layer, n_head)


@register_model("lstm_forecaster", family="sequence", paper="atm-chaos", example=_lstm_example)
def lstm_forecaster(in_channels: int = 1, hidden: int = 64, num_layers: int = 1) -> LSTMForecaster:
    return LSTMForecaster(in_channels, hidden, num_layers)


@register_model("cnn1d_forecaster", family="sequence", paper="atm-chaos", example=_cnn1d_example)
def cnn1d_forecaster(
    in_channels: int = 1, steps: int = 7, channels: int = 64, kernel_size: int = 2, dense: int = 50
) -> CNN1DForecaster:
    return CNN1DForecaster(in_channels, steps, channels, kernel_size, dense)
