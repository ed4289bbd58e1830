"""FieldEmbedding: one table for all fields, offsets, padding rows and the regularisers."""

import pytest
import torch

from mlpzoo.layers.fields import FieldEmbedding


def test_offsets_address_each_field_block():
    torch.manual_seed(0)
    emb = FieldEmbedding([4, 3, 5], dim=2, init_std=1.0)
    assert emb.offsets.tolist() == [0, 4, 7]
    assert emb.weight.shape == (12, 2)
    ids = torch.tensor([[2, 0, 4], [1, 2, 0]])
    out = emb(ids)
    assert out.shape == (2, 3, 2)
    # field 1 id 0 is row vocab_sizes[0] = 4; field 2 id 4 is row 4 + 3 + 4 = 11
    torch.testing.assert_close(out[0, 1], emb.weight[4])
    torch.testing.assert_close(out[0, 2], emb.weight[11])
    torch.testing.assert_close(out[1, 1], emb.weight[6])
    torch.testing.assert_close(out[0, 0], emb.weight[2])
    # lookup of one field (any shape) and global rows
    seq = torch.tensor([[0, 1, 2], [2, 2, 0]])
    torch.testing.assert_close(emb.lookup(1, seq), emb.weight[seq + 4])
    assert emb.rows(ids).tolist() == [[2, 4, 11], [1, 6, 7]]
    assert emb.rows(seq, field=2).tolist() == [[7, 8, 9], [9, 9, 7]]


def test_padding_rows_zero_at_init_and_others_random():
    torch.manual_seed(1)
    emb = FieldEmbedding([4, 3, 5], dim=6, init_std=0.1)
    for row in (0, 4, 7):
        assert torch.equal(emb.weight[row], torch.zeros(6))
    others = [r for r in range(12) if r not in (0, 4, 7)]
    assert (emb.weight[others].abs().sum(-1) > 0).all()
    assert 0.03 < emb.weight[others].std().item() < 0.3


def test_l2_penalty_is_squared_norm_of_table():
    torch.manual_seed(2)
    emb = FieldEmbedding([3, 2], dim=3, init_std=1.0)
    assert emb.l2_penalty().item() == pytest.approx(emb.weight.pow(2).sum().item(), rel=1e-6)
    manual = sum(float(x) ** 2 for x in emb.weight.detach().flatten())
    assert emb.l2_penalty().item() == pytest.approx(manual, rel=1e-5)


def test_mini_batch_penalty_hand_computed():
    emb = FieldEmbedding([3, 3], dim=2, frequencies=torch.tensor([0.0, 0.0, 4.0, 0.0, 2.0, 5.0]))
    with torch.no_grad():
        emb.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0], [0.0, 0.0], [2.0, 2.0], [1.0, -1.0]]))
    # rows 2 twice, 4, 1 twice: each unique row once, divided by its frequency (clamped at 1)
    rows = torch.tensor([2, 4, 2, 1, 1])
    expected = (9 + 1) / 4 + (4 + 4) / 2 + (1 + 4) / 1
    assert emb.mini_batch_penalty(rows).item() == pytest.approx(expected)
    # padding rows add nothing (zero vectors); row 5 has frequency 5
    assert emb.mini_batch_penalty(torch.tensor([0, 3, 5, 5])).item() == pytest.approx(2 / 5)


def test_mini_batch_penalty_default_frequency_is_one():
    torch.manual_seed(3)
    emb = FieldEmbedding([4], dim=3, init_std=1.0)
    rows = torch.tensor([1, 3, 3])
    assert emb.mini_batch_penalty(rows).item() == pytest.approx(emb.weight[[1, 3]].pow(2).sum().item(), rel=1e-6)


def test_frequencies_size_checked():
    with pytest.raises(ValueError):
        FieldEmbedding([3, 3], dim=2, frequencies=torch.ones(5))


def test_gradient_only_on_looked_up_rows():
    torch.manual_seed(4)
    emb = FieldEmbedding([3, 4], dim=2, init_std=1.0)
    emb(torch.tensor([[2, 1]])).sum().backward()
    touched = (emb.weight.grad.abs().sum(-1) > 0).nonzero().flatten().tolist()
    assert touched == [2, 4]
