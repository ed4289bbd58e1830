"""The LION optimiser (EvoLved Sign Momentum).

Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le, "Symbolic Discovery of
Optimization Algorithms", NeurIPS 2023, arXiv:2302.06675 (Algorithm 2); the optimiser of
Bachmann et al.'s Scaling-MLPs. One step, for gradient ``g`` and momentum ``m``:

    update = sign(beta1 * m + (1 - beta1) * g)
    theta  = theta * (1 - lr * weight_decay) - lr * update      (decoupled weight decay)
    m      = beta2 * m + (1 - beta2) * g

Every coordinate moves by exactly ``lr`` (or 0), so LION wants a learning rate 3-10x smaller
than AdamW's and a weight decay 3-10x larger. It keeps one state tensor per parameter (Adam two).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim import Optimizer

from mlpzoo.errors import ConfigError

__all__ = ["Lion"]


class Lion(Optimizer):
    """LION with decoupled weight decay; parameters are updated with foreach kernels per group.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (1e-4; Bachmann et al. pre-train with 5e-5).
        betas: ``(beta1, beta2)``: interpolation for the update and momentum decay (0.9, 0.99).
        weight_decay: decoupled weight decay coefficient (0).
    """

    def __init__(
        self, params: Iterable, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0
    ):
        if lr <= 0:
            raise ConfigError(f"Lion: lr = {lr} must be positive")
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ConfigError(f"Lion: betas = {betas} must be two numbers in [0, 1)")
        if weight_decay < 0:
            raise ConfigError(f"Lion: weight_decay = {weight_decay} must be >= 0")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise ConfigError("Lion does not support sparse gradients; use dense embeddings (sparse=False)")
            grads = [p.grad for p in params]
            momenta = []
            for p in params:
                state = self.state[p]
                if "exp_avg" not in state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                momenta.append(state["exp_avg"])
            lr, (beta1, beta2), decay = group["lr"], group["betas"], group["weight_decay"]
            if decay:
                torch._foreach_mul_(params, 1.0 - lr * decay)
            updates = torch._foreach_lerp(momenta, grads, 1.0 - beta1)  # beta1 * m + (1 - beta1) * g
            torch._foreach_sign_(updates)
            torch._foreach_add_(params, updates, alpha=-lr)
            torch._foreach_lerp_(momenta, grads, 1.0 - beta2)  # beta2 * m + (1 - beta2) * g
        return loss
