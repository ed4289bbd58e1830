"""GrokkingMLP: the paper's architecture, shapes and initial scale."""

import torch

import mlpzoo
from mlpzoo.models.modular import GrokkingMLP


def test_forward_matches_formula():
    torch.manual_seed(0)
    model = mlpzoo.create_model("grokking_net", p=7, d_emb=6, d_model=5)
    a, b = torch.tensor([0, 3, 6]), torch.tensor([1, 3, 2])
    logits = model({"a": a, "b": b})
    expected = torch.relu((model.embed[a] + model.embed[b]) @ model.w_in) @ model.w_out @ model.unembed
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(model(torch.stack([a, b], 1)), logits)
    assert logits.shape == (3, 7)


def test_paper_defaults_and_no_biases():
    model = GrokkingMLP()
    assert (model.p, model.d_emb, model.d_model) == (67, 500, 48)
    assert all(p.dim() == 2 for p in model.parameters())
    assert abs(model.w_in.std().item() - 500**-0.5) < 0.005
