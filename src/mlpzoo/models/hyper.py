"""MLPs whose weights come from a hypernetwork (layer-chunk embeddings, or a task embedding).

Paper: Chauhan, Zhou, Lu, Molaei & Clifton, "A Brief Review of Hypernetworks in Deep Learning",
2023, arXiv:2306.06955 (catalog id ``hypernetworks``); the chunked generator follows Ha et al.,
"HyperNetworks", 2016, arXiv:1609.09106, and von Oswald et al., 2020, arXiv:1906.00695
(:class:`~mlpzoo.layers.hyper.ChunkedHyperNetwork`).

- :class:`HyperMLP`: a static hypernetwork; its trainable parameters are the chunk embeddings
  and the generator, usually far fewer than the MLP it generates. Reads ``batch["x"]``.
- :class:`TaskHyperMLP`: one learned embedding per task conditions the generator, so a new task
  is learned by fitting only its embedding (:meth:`TaskHyperMLP.forward` takes the embeddings).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mlpzoo.layers.hyper import ChunkedHyperNetwork, functional_mlp, mlp_shapes
from mlpzoo.registry import register_model


def _checked(in_features: int, out_features: int, hidden: Sequence[int]) -> tuple[int, ...]:
    hidden = tuple(int(h) for h in hidden)
    if in_features < 1 or out_features < 1 or any(h < 1 for h in hidden):
        raise ValueError(
            f"hypernetwork target widths in={in_features}, hidden={hidden}, out={out_features} must all be >= 1"
        )
    return hidden


class HyperMLP(nn.Module):
    """An MLP ``in -> hidden... -> out`` (ReLU) whose weights a chunked hypernetwork generates."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (64,),
        chunk_size: int = 256,
        chunk_embedding_dim: int = 8,
        generator_hidden: int = 32,
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.hidden = _checked(in_features, out_features, hidden)
        self.hyper = ChunkedHyperNetwork(
            mlp_shapes(in_features, self.hidden, out_features), chunk_size, chunk_embedding_dim, 0, generator_hidden
        )

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        out = functional_mlp(x.reshape(x.shape[0], -1), self.hyper())
        return out.squeeze(-1) if self.out_features == 1 else out

    @property
    def target_parameters(self) -> int:
        """Entries of the generated MLP (what a plain MLP of this shape would train)."""
        return self.hyper.total


class TaskHyperMLP(nn.Module):
    """A task-conditioned hypernetwork: task embedding -> weights of a small MLP for that task.

    Args:
        n_tasks: number of training tasks (one learned embedding each).
        task_embedding_dim: width of a task embedding.
        Other arguments as in :class:`HyperMLP`.

    ``forward(x, task_embeddings)``: ``x (T, K, in)``, ``task_embeddings (T, task_embedding_dim)``
    -> ``(T, K, out)``; :meth:`embeddings` looks up training tasks by id.
    """

    def __init__(
        self,
        in_features: int = 1,
        out_features: int = 1,
        hidden: Sequence[int] = (40, 40),
        n_tasks: int = 100,
        task_embedding_dim: int = 8,
        chunk_size: int = 256,
        chunk_embedding_dim: int = 8,
        generator_hidden: int = 64,
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.hidden = _checked(in_features, out_features, hidden)
        self.task_embedding = nn.Embedding(n_tasks, task_embedding_dim)
        nn.init.normal_(self.task_embedding.weight, std=0.1)
        self.hyper = ChunkedHyperNetwork(
            mlp_shapes(in_features, self.hidden, out_features),
            chunk_size,
            chunk_embedding_dim,
            task_embedding_dim,
            generator_hidden,
        )

    def embeddings(self, task_ids: torch.Tensor) -> torch.Tensor:
        return self.task_embedding(task_ids)

    def forward(self, x: torch.Tensor, task_embeddings: torch.Tensor) -> torch.Tensor:
        return functional_mlp(x, self.hyper(task_embeddings))


def _chunked_example() -> tuple[dict, tuple]:
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    return {"in_features": 4, "out_features": 2, "hidden": (8,), "chunk_size": 16, "generator_hidden": 8}, (x,)


def _task_example() -> tuple[dict, tuple]:
    """Two tasks of five points each, with their (given) task embeddings."""
    generator = torch.Generator().manual_seed(0)
    inputs = (torch.randn(2, 5, 1, generator=generator), torch.randn(2, 4, generator=generator))
    return {"hidden": (8,), "n_tasks": 3, "task_embedding_dim": 4, "chunk_size": 16, "generator_hidden": 8}, inputs


@register_model("hypernet_chunked", family="other", paper="hypernetworks", example=_chunked_example)
def hypernet_chunked(
    in_features: int,
    out_features: int,
    hidden: Sequence[int] = (64,),
    chunk_size: int = 256,
    chunk_embedding_dim: int = 8,
    generator_hidden: int = 32,
) -> HyperMLP:
    """Static chunked hypernetwork generating a ReLU MLP (Ha et al. style)."""
    return HyperMLP(in_features, out_features, hidden, chunk_size, chunk_embedding_dim, generator_hidden)


@register_model("hypernet_task", family="other", paper="hypernetworks", example=_task_example)
def hypernet_task(
    in_features: int = 1,
    out_features: int = 1,
    hidden: Sequence[int] = (40, 40),
    n_tasks: int = 100,
    task_embedding_dim: int = 8,
    chunk_size: int = 256,
    chunk_embedding_dim: int = 8,
    generator_hidden: int = 64,
) -> TaskHyperMLP:
    """Task-embedding-conditioned chunked hypernetwork for few-shot regression."""
    return TaskHyperMLP(
        in_features,
        out_features,
        hidden,
        n_tasks,
        task_embedding_dim,
        chunk_size,
        chunk_embedding_dim,
        generator_hidden,
    )
