"""Synthetic Mamba tasks: the layout of selective copying and induction heads, seeding, bad sizes."""

import pytest
import torch

from mlpzoo.data.synthetic_sequences import IGNORE, induction_heads, selective_copying
from mlpzoo.errors import ConfigError


def test_selective_copying_layout():
    batch = selective_copying(8, seq_len=50, n_memorize=5, vocab_size=10, seed=3)
    assert batch.tokens.shape == batch.targets.shape == (8, 55)
    body, prompt = batch.tokens[:, :50], batch.tokens[:, 50:]
    assert (prompt == 9).all()
    assert ((body > 0) & (body < 9)).sum(1).tolist() == [5] * 8
    assert (batch.targets[:, :50] == IGNORE).all()
    for row in range(8):  # the scored targets are the data tokens in order of appearance
        assert torch.equal(batch.targets[row, 50:], body[row][body[row] > 0])


def test_positions_vary_and_seeds_reproduce():
    a = selective_copying(16, 40, 4, seed=1)
    assert torch.equal(a.tokens, selective_copying(16, 40, 4, seed=1).tokens)
    assert not torch.equal(a.tokens, selective_copying(16, 40, 4, seed=2).tokens)
    positions = {tuple(torch.nonzero(row[:40]).flatten().tolist()) for row in a.tokens}
    assert len(positions) > 1


def test_induction_heads_layout():
    batch = induction_heads(32, seq_len=30, vocab_size=8, seed=0)
    assert batch.tokens.shape == (32, 30)
    assert (batch.tokens[:, -1] == 7).all()
    assert ((batch.tokens[:, :-1] == 7).sum(1) == 1).all()
    first = (batch.tokens[:, :-1] == 7).int().argmax(1)
    assert torch.equal(batch.targets[:, -1], batch.tokens[torch.arange(32), first + 1])
    assert (batch.targets[:, :-1] == IGNORE).all()


def test_bad_sizes():
    with pytest.raises(ConfigError, match="n_memorize"):
        selective_copying(2, seq_len=3, n_memorize=5)
    with pytest.raises(ConfigError, match="vocab_size"):
        selective_copying(2, 10, 2, vocab_size=2)
    with pytest.raises(ConfigError, match="seq_len"):
        induction_heads(2, seq_len=3)
    with pytest.raises(ConfigError, match="batch_size"):
        induction_heads(0)
