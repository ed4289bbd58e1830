"""Sequence models: shapes, causality, recurrent generation = parallel forward, registry, bad input."""

import pytest
import torch

from mlpzoo import create_model, list_models
from mlpzoo.errors import ConfigError


def test_registered_in_the_sequence_family():
    assert {"mamba", "mamba_lti", "transformer_lm", "lstm_forecaster", "cnn1d_forecaster"} <= set(
        list_models(family="sequence")
    )


@pytest.mark.parametrize("name", ["mamba", "mamba_lti", "transformer_lm"])
def test_language_models_are_causal_and_shaped(name):
    torch.manual_seed(0)
    model = create_model(name, vocab_size=11, d_model=16, n_layer=2)
    tokens = torch.randint(0, 11, (2, 20))
    logits = model({"tokens": tokens})
    assert logits.shape == (2, 20, 11)
    changed = tokens.clone()
    changed[:, 12:] = (changed[:, 12:] + 1) % 11
    assert torch.allclose(model(changed)[:, :12], logits[:, :12], atol=1e-5)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["mamba", "mamba_lti"])
def test_generation_step_equals_parallel_forward(name):
    torch.manual_seed(0)
    model = create_model(name, vocab_size=7, d_model=8, n_layer=2, chunk_size=4).double()
    tokens = torch.randint(0, 7, (3, 11))
    parallel = model(tokens)
    state = model.allocate_state(3)
    for t in range(11):
        logits, state = model.step(tokens[:, t], state)
        assert torch.allclose(logits, parallel[:, t], atol=1e-10)


def test_mamba_head_is_tied_and_out_proj_rescaled():
    torch.manual_seed(0)
    model = create_model("mamba", vocab_size=7, d_model=32, n_layer=4)
    assert model.lm_head.weight is model.embedding.weight
    # kaiming_uniform(a=sqrt(5)) bound is 1/sqrt(fan_in); rescaled by 1/sqrt(n_layer)
    bound = 1 / 64**0.5 / 4**0.5
    assert model.mixers[0].out_proj.weight.abs().max() <= bound + 1e-7


def test_transformer_runs_longer_than_it_was_trained():
    model = create_model("transformer_lm", vocab_size=5, d_model=16, n_layer=1, n_head=2)
    assert model(torch.randint(0, 5, (1, 300))).shape == (1, 300, 5)


def test_forecasters():
    x = torch.randn(4, 6, 8)
    assert create_model("lstm_forecaster", in_channels=8)({"x": x}).shape == (4,)
    cnn = create_model("cnn1d_forecaster", in_channels=8, steps=6)
    assert cnn({"x": x}).shape == (4,)
    assert create_model("cnn1d_forecaster", in_channels=1, steps=1)(torch.randn(4, 1)).shape == (4,)
    with pytest.raises(ConfigError, match="built for 6 steps"):
        cnn({"x": torch.randn(4, 5, 8)})


def test_bad_input():
    with pytest.raises(ConfigError, match="n_head"):
        create_model("transformer_lm", d_model=10, n_head=4)
    with pytest.raises(ConfigError, match="tokens of shape"):
        create_model("mamba", d_model=8)(torch.zeros(3, dtype=torch.long))
