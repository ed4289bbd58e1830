"""Lottery-ticket pruning: global magnitude masks, random masks of equal sparsity, rewinding.

Frankle & Carbin, "The Lottery Ticket Hypothesis", 2019, arXiv:1803.03635 (prune by magnitude,
rewind the survivors to their initial values, retrain); used by Minegishi et al., "Grokking
Tickets: Lottery Tickets Accelerate Grokking", 2023, arXiv:2310.19470, with one *global*
threshold over all weight matrices. A mask is a dict ``parameter name -> 0/1 tensor``;
``keep_fraction`` is the fraction of weights that survive (the paper's ``sparsity`` setting).
Parameters with fewer than two dimensions (biases, norms) are never pruned.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.errors import ConfigError

Masks = dict[str, torch.Tensor]


def prunable(model: nn.Module) -> dict[str, nn.Parameter]:
    """The model's weight matrices (parameters with two or more dimensions), by name."""
    return {name: p for name, p in model.named_parameters() if p.dim() >= 2}


def _check_fraction(keep_fraction: float) -> None:
    if not 0 < keep_fraction <= 1:
        raise ConfigError(f"keep_fraction = {keep_fraction} must be in (0, 1]")


def _keep_count(total: int, keep_fraction: float) -> int:
    return max(1, round(keep_fraction * total))


def global_magnitude_masks(weights: dict[str, torch.Tensor], keep_fraction: float) -> Masks:
    """Keep the ``keep_fraction`` largest-|w| entries over all tensors together (ties broken by order)."""
    _check_fraction(keep_fraction)
    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights.values()])
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[torch.topk(flat, _keep_count(flat.numel(), keep_fraction)).indices] = True
    return _split(keep, weights)


def random_masks(weights: dict[str, torch.Tensor], keep_fraction: float, generator: torch.Generator) -> Masks:
    """A uniformly random global mask keeping the same number of weights as a magnitude mask."""
    _check_fraction(keep_fraction)
    total = sum(w.numel() for w in weights.values())
    keep = torch.zeros(total, dtype=torch.bool)
    keep[torch.randperm(total, generator=generator)[: _keep_count(total, keep_fraction)]] = True
    return _split(keep, weights)


def _split(keep: torch.Tensor, weights: dict[str, torch.Tensor]) -> Masks:
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].reshape(w.shape).to(w.dtype)
        start += w.numel()
    return masks


def kept_fraction(masks: Masks) -> float:
    total = sum(m.numel() for m in masks.values())
    return float(sum(m.sum() for m in masks.values()) / total)


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Zero the pruned weights in place (call after every optimizer step to keep them at zero)."""
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask)


@torch.no_grad()
def rewind(model: nn.Module, initial_state: dict[str, torch.Tensor], masks: Masks | None = None) -> None:
    """Reset every parameter to ``initial_state`` (a ``state_dict`` copy), then apply ``masks``."""
    model.load_state_dict(initial_state)
    if masks:
        apply_masks(model, masks)


def weight_norm(model: nn.Module, masks: Masks | None = None) -> float:
    """L2 norm of the prunable weights (masked when ``masks`` is given)."""
    total = 0.0
    for name, w in prunable(model).items():
        w = w.detach() * masks[name] if masks else w.detach()
        total += float(w.square().sum())
    return math.sqrt(total)


@torch.no_grad()
def rescale_to_norm(model: nn.Module, target_norm: float) -> float:
    """Scale every prunable weight by one factor so their L2 norm is ``target_norm``; returns the factor.

    The paper's norm control: a dense net with the same weight norm as the ticket, to show that
    a small norm alone does not explain the speed-up.
    """
    factor = target_norm / weight_norm(model)
    for w in prunable(model).values():
        w.mul_(factor)
    return factor
