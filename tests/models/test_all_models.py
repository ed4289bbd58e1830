"""Every registered model, built from its registered example: forward, batch shape, backward, gradients, determinism.

The cases come from ``list_models()``, so a newly registered model is tested the moment it is registered.
"""

import pytest
import torch

from mlpzoo.registry import create_model, list_models, model_entry, model_example

# Trainable parameters that a model's forward does not use by design, so their gradient stays None.
UNUSED_IN_FORWARD = {
    # forward(x, task_embeddings) takes the embeddings; embeddings(task_ids) looks training tasks up in this table.
    "hypernet_task": {"task_embedding.weight"},
}


def _tensors(value):
    """Every tensor inside nested tuples, lists and dicts, in order."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    # torch.equal has no sparse kernel (the graph models take a sparse operator).
    return torch.equal(a.to_dense(), b.to_dense()) if a.layout != torch.strided else torch.equal(a, b)


def _batch_size(inputs: tuple) -> int:
    return next(_tensors(inputs)).shape[0]


def _build(name: str):
    torch.manual_seed(0)
    kwargs, inputs = model_example(name)
    return create_model(name, **kwargs), inputs


def test_every_registered_model_has_an_example():
    assert [name for name in list_models() if model_entry(name).example is None] == []


def test_unused_parameter_list_names_registered_models():
    assert set(UNUSED_IN_FORWARD) <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_example_is_reproducible(name):
    (kwargs_a, inputs_a), (kwargs_b, inputs_b) = model_example(name), model_example(name)
    assert kwargs_a.keys() == kwargs_b.keys()
    tensors_a, tensors_b = list(_tensors(inputs_a)), list(_tensors(inputs_b))
    assert tensors_a and len(tensors_a) == len(tensors_b)
    assert all(_same(a, b) for a, b in zip(tensors_a, tensors_b))
    assert 2 <= _batch_size(inputs_a) <= 3


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_and_gradients(name):
    model, inputs = _build(name)
    model.train()
    out = model(*inputs)
    assert isinstance(out, torch.Tensor) and out.is_floating_point(), f"{name} returned {type(out).__name__}"
    batch = _batch_size(inputs)
    assert out.shape[0] == batch, f"{name}: output {tuple(out.shape)} for a batch of {batch}"
    assert torch.isfinite(out).all(), f"{name}: non-finite output"
    out.sum().backward()
    unused = UNUSED_IN_FORWARD.get(name, set())
    trainable = {key: p for key, p in model.named_parameters() if p.requires_grad}
    assert unused <= set(trainable), f"{name}: {sorted(unused - set(trainable))} are not trainable parameters"
    missing = sorted(key for key, p in trainable.items() if p.grad is None and key not in unused)
    assert missing == [], f"{name}: no gradient reached {missing}"
    assert all(trainable[key].grad is None for key in unused), f"{name}: a parameter listed as unused got a gradient"
    grads = [p.grad for p in trainable.values() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads), f"{name}: non-finite gradient"
    assert any(g.abs().sum() > 0 for g in grads), f"{name}: every gradient is zero"


@pytest.mark.parametrize("name", list_models())
def test_eval_forward_is_deterministic(name):
    model, inputs = _build(name)
    model.eval()
    with torch.no_grad():
        first, second = model(*inputs), model(*inputs)
    assert first.shape[0] == _batch_size(inputs)
    assert torch.equal(first, second), f"{name}: two eval-mode forwards of the same input differ"
