"""The model registry: listing with patterns and families, building by name, helpful errors."""

import pytest
import torch
from torch import nn

import mlpzoo
from mlpzoo import registry
from mlpzoo.errors import ConfigError
from mlpzoo.registry import create_model, list_models, model_entry, model_example, register_model

CTR = ["dcn", "dcnv2", "deepfm", "din", "din_base", "dnn", "dualmlp", "finalmlp"]


def test_list_models_patterns_and_families():
    assert set(CTR) <= set(list_models())
    assert list_models() == sorted(list_models())
    assert list_models(family="ctr") == CTR
    assert list_models("dcn*") == ["dcn", "dcnv2"]
    assert list_models("din*") == ["din", "din_base"]
    assert {"dualmlp", "finalmlp", "mlp"} <= set(list_models("*mlp"))
    assert all(name.endswith("mlp") for name in list_models("*mlp"))
    assert list_models("d?n") == ["dcn", "din", "dnn"]
    assert list_models("nothing*") == []
    assert list_models(family="no-such-family") == []
    assert list_models("fin*", family="ctr") == ["finalmlp"]
    assert mlpzoo.list_models is list_models


def test_entries_record_family_and_paper():
    entry = model_entry("finalmlp")
    assert entry.family == "ctr" and entry.paper == "finalmlp"
    assert model_entry("din_base").paper == "din"


@pytest.mark.parametrize("typo,suggestion", [("finalmpl", "finalmlp"), ("deepfn", "deepfm"), ("dcnv3", "dcnv2")])
def test_unknown_name_suggests_close_names(typo, suggestion):
    with pytest.raises(ConfigError) as info:
        create_model(typo)
    message = str(info.value)
    assert typo in message and suggestion in message and "\n" not in message


def test_unknown_name_without_close_match():
    with pytest.raises(ConfigError) as info:
        create_model("zzzzzzzz")
    assert "did you mean" not in str(info.value) and "list_models" in str(info.value)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made by a test vanish after it (other tests see the real registry)."""
    list_models()  # load the real models first
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))


def test_register_and_build_custom_model(scratch_registry):
    name = "test_registry_tiny_linear"

    @register_model(name, family="test-only")
    def tiny(width: int = 3) -> nn.Module:
        return nn.Linear(width, 1)

    assert list_models(family="test-only") == [name]
    assert create_model(name).in_features == 3
    assert create_model(name, width=5).in_features == 5
    with pytest.raises(ConfigError) as info:
        create_model(name, depth=2)
    assert "depth" in str(info.value)
    with pytest.raises(ValueError):
        register_model(name, family="test-only")(tiny)


def test_type_errors_inside_builders_are_not_masked(scratch_registry):
    name = "test_registry_broken"

    @register_model(name, family="test-only-broken")
    def broken() -> nn.Module:
        raise TypeError("bad operand")

    with pytest.raises(TypeError):
        create_model(name)


def test_model_example_builds_and_runs(scratch_registry):
    name = "test_registry_with_example"

    def example():
        return {"width": 4}, (torch.randn(2, 4, generator=torch.Generator().manual_seed(0)),)

    @register_model(name, family="test-only", example=example)
    def tiny(width: int = 3) -> nn.Module:
        return nn.Linear(width, 1)

    assert model_entry(name).example is example
    kwargs, inputs = model_example(name)
    assert kwargs == {"width": 4} and isinstance(inputs, tuple)
    assert create_model(name, **kwargs)(*inputs).shape == (2, 1)
    assert torch.equal(model_example(name)[1][0], inputs[0])  # fresh, equal inputs on every call


def test_model_example_refuses_a_model_without_one(scratch_registry):
    register_model("test_registry_no_example", family="test-only")(nn.Identity)
    with pytest.raises(ConfigError) as info:
        model_example("test_registry_no_example")
    message = str(info.value)
    assert "test_registry_no_example" in message and "example=" in message and "\n" not in message


@pytest.mark.parametrize("returned", [({"width": 2},), [{}, ()], ({}, torch.zeros(2)), (None, ())])
def test_model_example_refuses_a_malformed_example(scratch_registry, returned):
    register_model("test_registry_bad_example", family="test-only", example=lambda: returned)(nn.Identity)
    with pytest.raises(ConfigError, match="test_registry_bad_example.*kwargs dict, tuple of positional inputs"):
        model_example("test_registry_bad_example")


def test_model_example_of_an_unknown_name_suggests_names():
    with pytest.raises(ConfigError, match="did you mean finalmlp"):
        model_example("finalmpl")


def test_fingerprint_follows_weights_and_allows_the_meta_device():
    model = create_model("mlp", in_features=3)
    assert registry.is_as_built(model)
    with torch.no_grad():
        next(model.parameters())[0, 0] += 1.0
    assert not registry.is_as_built(model)
    with torch.device("meta"):  # parameter counting without memory: shapes only, no values to sum
        meta = create_model("mlp", in_features=3)
    assert registry.is_as_built(meta)
    assert all(total is None for _, _, total in registry.weights_fingerprint(meta))


def test_scratch_registrations_do_not_leak():
    assert not any(name.startswith("test_registry_") for name in list_models())
