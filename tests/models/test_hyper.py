"""HyperMLP and TaskHyperMLP: registered, fewer trainable parameters than their target, trainable."""

import pytest
import torch

import mlpzoo
from mlpzoo.models.hyper import HyperMLP


def test_registered_and_forward():
    assert {"hypernet_chunked", "hypernet_task"} <= set(mlpzoo.list_models(family="other"))
    model = mlpzoo.create_model(
        "hypernet_chunked", in_features=64, out_features=10, chunk_size=64, chunk_embedding_dim=4, generator_hidden=16
    )
    assert model({"x": torch.randn(7, 64)}).shape == (7, 10)
    assert sum(p.numel() for p in model.parameters()) < model.target_parameters == 64 * 64 + 64 + 64 * 10 + 10
    task = mlpzoo.create_model("hypernet_task", n_tasks=4)
    out = task(torch.randn(2, 9, 1), task.embeddings(torch.tensor([0, 3])))
    assert out.shape == (2, 9, 1)
    out.sum().backward()
    assert (
        task.task_embedding.weight.grad[[0, 3]].abs().sum() > 0
        and task.task_embedding.weight.grad[[1, 2]].abs().sum() == 0
    )


def test_learns_a_small_problem():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = (x[:, 0] > 0).long()
    model = HyperMLP(4, 2, (16,), chunk_size=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(model({"x": x}), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert (model({"x": x}).argmax(1) == y).float().mean() > 0.9


def test_bad_widths():
    with pytest.raises(ValueError):
        HyperMLP(0, 2)
