"""Synthetic token tasks of the Mamba paper, generated on the fly from a seed.

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
arXiv:2312.00752, section 4.1 and appendix E.1.

- Selective copying: ``n_memorize`` data tokens are scattered at random positions (kept in order)
  among ``seq_len`` noise tokens; then ``n_memorize`` marker tokens ask the model to reproduce the
  data tokens in order. Token 0 is the noise token, ``vocab_size - 1`` the marker, data tokens are
  ``1 .. vocab_size - 2``. Unlike plain copying the spacing varies, so a time-invariant model
  cannot solve it with a fixed convolution.
- Induction heads: random tokens ``0 .. vocab_size - 2``; a trigger token (``vocab_size - 1``)
  appears once, followed by a target token, and again at the last position, where the model must
  predict the target. Train at one length, test at longer ones (length extrapolation).

Both return a :class:`TokenBatch`: inputs ``(B, L)`` and targets aligned with the inputs (the
output at position ``t`` must equal ``targets[t]``), ``IGNORE`` where nothing is scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mlpzoo.errors import ConfigError

__all__ = ["IGNORE", "TokenBatch", "induction_heads", "selective_copying"]

IGNORE = -100  # torch.nn.functional.cross_entropy's default ignore_index


@dataclass
class TokenBatch:
    tokens: torch.Tensor  # (B, L) int64
    targets: torch.Tensor  # (B, L) int64, IGNORE where unscored

    def as_batch(self) -> dict[str, torch.Tensor]:
        return {"tokens": self.tokens, "label": self.targets}


def _generator(seed: int | torch.Generator) -> torch.Generator:
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))


def _check(name: str, **sizes: int) -> None:
    for key, value in sizes.items():
        if value < 1:
            raise ConfigError(f"{name}: {key} = {value} must be at least 1")


def selective_copying(
    batch_size: int, seq_len: int = 4096, n_memorize: int = 16, vocab_size: int = 16, seed: int | torch.Generator = 0
) -> TokenBatch:
    """Selective copying batches of length ``seq_len + n_memorize`` (paper: 4096, 16 tokens, vocabulary 16)."""
    _check("selective_copying", batch_size=batch_size, seq_len=seq_len, n_memorize=n_memorize)
    if vocab_size < 3:
        raise ConfigError(
            f"selective_copying: vocab_size = {vocab_size} must be at least 3 (noise, marker, one data token)"
        )
    if n_memorize > seq_len:
        raise ConfigError(
            f"selective_copying: n_memorize = {n_memorize} tokens do not fit in seq_len = {seq_len}; "
            "use a longer sequence or fewer tokens"
        )
    gen = _generator(seed)
    positions = torch.rand(batch_size, seq_len, generator=gen).argsort(dim=1)[:, :n_memorize].sort(dim=1).values
    data = torch.randint(1, vocab_size - 1, (batch_size, n_memorize), generator=gen)
    tokens = torch.zeros(batch_size, seq_len + n_memorize, dtype=torch.long)
    tokens.scatter_(1, positions, data)
    tokens[:, seq_len:] = vocab_size - 1
    targets = torch.full_like(tokens, IGNORE)
    targets[:, seq_len:] = data
    return TokenBatch(tokens, targets)


def induction_heads(
    batch_size: int, seq_len: int = 256, vocab_size: int = 16, seed: int | torch.Generator = 0
) -> TokenBatch:
    """Induction-head batches of length ``seq_len``; only the last position is scored."""
    _check("induction_heads", batch_size=batch_size)
    if seq_len < 4:
        raise ConfigError(f"induction_heads: seq_len = {seq_len} must be at least 4 (trigger, target, filler, trigger)")
    if vocab_size < 3:
        raise ConfigError(f"induction_heads: vocab_size = {vocab_size} must be at least 3")
    gen = _generator(seed)
    trigger = vocab_size - 1
    tokens = torch.randint(0, trigger, (batch_size, seq_len), generator=gen)
    first = torch.randint(0, seq_len - 2, (batch_size, 1), generator=gen)  # the trigger's first position
    rows = torch.arange(batch_size).unsqueeze(1)
    tokens[rows, first] = trigger
    target = tokens[rows, first + 1].squeeze(1)
    tokens[:, -1] = trigger
    targets = torch.full_like(tokens, IGNORE)
    targets[:, -1] = target
    return TokenBatch(tokens, targets)
