"""The text models: the matcher's two normalised towers, ArmoRM's gate, the masked LM's two heads."""

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.errors import ConfigError, DataError


def test_matcher_embeddings_are_unit_norm_and_refuse_empty_captions():
    model = create_model("image_text_matcher", vocab_size=20, embed_dim=8, text_hidden=[8], joint_dim=6)
    model.eval()
    images = torch.rand(2, 3, 16, 16)
    out = model({"images": images, "tokens": torch.tensor([[2, 3, 0], [4, 0, 0]])})
    assert out.shape == (2, 12)
    assert torch.allclose(out[:, :6].norm(dim=1), torch.ones(2)) and torch.allclose(
        out[:, 6:].norm(dim=1), torch.ones(2)
    )
    with pytest.raises(DataError, match="no token"):
        model(images, torch.tensor([[2, 3, 0], [0, 0, 0]]))
    with pytest.raises(DataError, match="uint8|float"):
        model(images.to(torch.uint8), torch.tensor([[2], [3]]))


def test_gate_weights_sum_to_one_and_fixed_weights_ignore_the_prompt():
    gated = create_model("armorm_gate", prompt_dim=5, objectives=4, gate_hidden=[8])
    fixed = create_model("armorm_fixed_weights", prompt_dim=5, objectives=4)
    prompts = torch.randn(3, 5)
    weights = gated.weights(prompts)
    assert torch.allclose(weights.sum(1), torch.ones(3)) and (weights >= 0).all()
    assert not torch.allclose(weights[0], weights[1])
    fixed_weights = fixed.weights(prompts)
    assert torch.allclose(fixed_weights, torch.full((3, 4), 0.25))
    with pytest.raises(DataError, match="ratings"):
        gated(prompts, torch.randn(3, 4))
    with pytest.raises(ConfigError, match="beta_init"):
        create_model("armorm_gate", prompt_dim=5, objectives=4, beta_init=0.0)
    scores = fixed(prompts, torch.ones(3, 2, 4))
    assert torch.allclose(scores, torch.full((3, 2), 10.0))  # beta starts at 10, weights sum to one


def test_mvp_heads_share_the_encoder_and_the_prompt_head_adds_no_parameters():
    kwargs = {"vocab_size": 30, "num_classes": 2, "verbalizer": [5, 6], "dim": 8, "depth": 1, "heads": 2}
    prompt, mlp = create_model("mvp_prompt", **kwargs), create_model("mvp_mlp_ft", **kwargs)
    lm = create_model("tiny_mlm", vocab_size=30, dim=8, depth=1, heads=2)
    assert sum(p.numel() for p in prompt.parameters()) == sum(p.numel() for p in lm.parameters())
    prompt.lm.load_state_dict(lm.state_dict())
    mlp.lm.load_state_dict(lm.state_dict(), strict=False)
    tokens = torch.tensor([[3, 7, 8, 2, 0], [3, 9, 2, 0, 0]])
    prompt.eval()
    lm.eval()
    with torch.no_grad():
        expected = lm(tokens)[torch.arange(2), torch.tensor([3, 2])][:, [5, 6]]
        assert torch.allclose(prompt(tokens), expected, atol=1e-5)  # label-word scores of the pretrained MLM head
    assert mlp(tokens).shape == (2, 2)
    with pytest.raises(DataError, match="mask"):
        prompt(torch.tensor([[3, 7, 8]]))
    with pytest.raises(ConfigError, match="verbalizer"):
        create_model("mvp_prompt", **{**kwargs, "verbalizer": [5]})
    masked = lm({"tokens": tokens, "label": torch.tensor([[-100, 7, -100, -100, -100], [-100] * 5])})
    assert masked.shape == (1, 30)
