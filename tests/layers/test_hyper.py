"""Chunked hypernetwork: generated shapes, gradients to the embeddings, batched target MLP."""

import pytest
import torch

from mlpzoo.layers.hyper import ChunkedHyperNetwork, functional_mlp, mlp_shapes


def test_generated_shapes_and_scale():
    target = mlp_shapes(5, (7,), 3)
    assert [s for s, _ in target] == [(7, 5), (7,), (3, 7), (3,)]
    hyper = ChunkedHyperNetwork(target, chunk_size=10, chunk_embedding_dim=4)
    assert hyper.chunk_embeddings.shape == (-(-(35 + 7 + 21 + 3) // 10), 4)
    weights = hyper()
    assert [tuple(w.shape) for w in weights] == [(7, 5), (7,), (3, 7), (3,)]
    conditioned = ChunkedHyperNetwork(target, chunk_size=10, condition_dim=2)
    batched = conditioned(torch.randn(6, 2))
    assert [tuple(w.shape) for w in batched] == [(6, 7, 5), (6, 7), (6, 3, 7), (6, 3)]


def test_gradients_flow_to_chunk_and_task_embeddings():
    torch.manual_seed(0)
    hyper = ChunkedHyperNetwork(mlp_shapes(2, (4,), 1), chunk_size=8, condition_dim=3)
    task = torch.randn(5, 3, requires_grad=True)
    out = functional_mlp(torch.randn(5, 6, 2), hyper(task))
    assert out.shape == (5, 6, 1)
    out.square().sum().backward()
    for p in (hyper.chunk_embeddings, hyper.hidden.weight, hyper.out.weight, task):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_functional_mlp_batched_equals_per_task():
    torch.manual_seed(1)
    params = [torch.randn(3, 4, 2), torch.randn(3, 4), torch.randn(3, 1, 4), torch.randn(3, 1)]
    x = torch.randn(3, 5, 2)
    batched = functional_mlp(x, params)
    for t in range(3):
        torch.testing.assert_close(batched[t], functional_mlp(x[t], [p[t] for p in params]))


def test_condition_errors():
    plain = ChunkedHyperNetwork(mlp_shapes(2, (), 1), chunk_size=4)
    conditioned = ChunkedHyperNetwork(mlp_shapes(2, (), 1), chunk_size=4, condition_dim=2)
    with pytest.raises(ValueError):
        conditioned()
    with pytest.raises(ValueError):
        conditioned(torch.randn(3, 5))
    with pytest.raises(ValueError):
        ChunkedHyperNetwork(mlp_shapes(2, (), 1), chunk_size=0)
    assert len(plain()) == 2
