"""The generative core shared by GPD, Flow-Omni and Diffusion-Link: DDPM and flow matching.

- :class:`GaussianDiffusion`: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models",
  NeurIPS 2020 (arXiv:2006.11239): epsilon prediction (or, with ``prediction="v"``, the velocity
  of Salimans & Ho, "Progressive Distillation for Fast Sampling of Diffusion Models", ICLR 2022,
  arXiv:2202.00512), ancestral sampling with the posterior variance; linear schedule (Ho et al.)
  or cosine schedule (Nichol & Dhariwal, "Improved Denoising Diffusion Probabilistic Models",
  ICML 2021, arXiv:2102.09672).
- :class:`FlowMatching`: Lipman et al., "Flow Matching for Generative Modeling", ICLR 2023
  (arXiv:2210.02747) with the linear (rectified) path x_t = (1 - t) z + t x, velocity target
  x - z; Euler or Heun ODE samplers from t = 0 (noise) to t = 1 (data).

Both wrap a denoiser ``net(x, t, context)`` (e.g. :class:`~mlpzoo.layers.denoise.ResidualMLPDenoiser`)
with ``t`` in [0, 1], train with ``loss(x, context)`` (:func:`fit_generative`) and draw with
``sample(n, context=...)``. Both can fill in a partly known vector (``known`` where ``mask`` is
true), which is how GPD forecasts: RePaint's replacement (Lugmayr et al., CVPR 2022,
arXiv:2201.09865): after every step the known coordinates are overwritten with the known
values carried to the current noise level, optionally with RePaint's resampling (``resample``
> 1) and, for DDPM, with reconstruction guidance (``guidance`` > 0: Ho et al., "Video Diffusion
Models", 2022, arXiv:2204.03458: a gradient step that pulls the x_0 estimate of the generated
coordinates towards consistency with the known ones).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

__all__ = ["FlowMatching", "GaussianDiffusion", "fit_generative", "make_betas"]


def make_betas(kind: Literal["linear", "cosine"], steps: int) -> torch.Tensor:
    """Noise schedule beta_1..beta_T (float64).

    ``linear``: Ho et al.'s 1e-4 .. 0.02 over 1000 steps, rescaled by 1000 / T for other T so
    the total noise stays the same. ``cosine``: alpha_bar(t) = cos^2((t/T + s) / (1 + s) pi/2)
    with s = 0.008, betas clipped at 0.999 (Nichol & Dhariwal).
    """
    if steps < 1:
        raise ValueError(f"diffusion steps must be >= 1; got {steps}")
    if kind == "linear":
        scale = 1000.0 / steps
        return torch.linspace(scale * 1e-4, min(scale * 0.02, 0.999), steps, dtype=torch.float64)
    if kind == "cosine":
        s = 0.008
        grid = torch.linspace(0, steps, steps + 1, dtype=torch.float64) / steps
        alpha_bar = torch.cos((grid + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    raise ValueError(f"unknown noise schedule {kind!r}; use 'linear' or 'cosine'")


def _check_known(known: torch.Tensor | None, mask: torch.Tensor | None, n: int, dim: int):
    """Broadcast ``known`` and ``mask`` to (n, dim); both or neither must be given."""
    if (known is None) != (mask is None):
        raise ValueError("pass both known and mask (or neither) to condition on known coordinates")
    if known is None:
        return None, None
    known = known.expand(n, dim) if known.dim() == 1 else known
    mask = mask.to(torch.bool).expand(n, dim) if mask.dim() == 1 else mask.to(torch.bool)
    if known.shape != (n, dim) or mask.shape != (n, dim):
        raise ValueError(
            f"known and mask must have shape ({n}, {dim}) or ({dim},); got {tuple(known.shape)} and {tuple(mask.shape)}"
        )
    return known, mask


def _context(context: torch.Tensor | None, n: int) -> torch.Tensor | None:
    if context is None:
        return None
    return context.expand(n, -1) if context.dim() == 1 else context


class GaussianDiffusion(nn.Module):
    """DDPM over flat vectors: ``q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)``.

    Args:
        denoiser: ``net(x_t, t, context) -> eps`` (or ``-> v``, see ``prediction``); step index i (0-based)
            is passed as t = (i + 1) / T.
        steps: T, the number of diffusion steps (default 1000, as in Ho et al.).
        schedule: ``"linear"`` (default) or ``"cosine"``.
        clip_x0: if set, the x_0 estimate is clamped to [-clip_x0, clip_x0] before each step (as
            DDPM's image code clips to [-1, 1]). The cosine schedule's last beta is 0.999, which
            multiplies the first step's epsilon error by ~30; clipping contains that for data of
            known range (e.g. 5 for standardised series). Default None: no clipping.
        prediction: ``"eps"`` (default, Ho et al.: the network predicts the noise) or ``"v"`` (it predicts
            v = sqrt(abar) eps - sqrt(1 - abar) x_0, Salimans & Ho). With eps prediction the x_0 estimate
            (x_t - sqrt(1 - abar) eps) / sqrt(abar) divides the network's error by sqrt(abar_T) ~ 0.007 at
            the noisy end of a 200-step linear chain; a residual MLP over noisy, weakly structured windows
            (ETT) then drifts off the data (draws with 5x its spread), where v prediction does not. (Predicting
            x_0 itself fixes that too, but collapses the modes of a 1-D mixture to points.)
    """

    def __init__(
        self,
        denoiser: nn.Module,
        steps: int = 1000,
        schedule: Literal["linear", "cosine"] = "linear",
        clip_x0: float | None = None,
        prediction: Literal["eps", "v"] = "eps",
    ):
        super().__init__()
        if prediction not in ("eps", "v"):
            raise ValueError(f"unknown diffusion prediction target {prediction!r}; use 'eps' or 'v'")
        self.denoiser, self.steps, self.schedule, self.clip_x0 = denoiser, steps, schedule, clip_x0
        self.prediction = prediction
        betas = make_betas(schedule, steps)
        alpha_bar = torch.cumprod(1 - betas, 0)
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        buffers = {
            "betas": betas,
            "alpha_bar": alpha_bar,
            # p(x_{t-1} | x_t) = N((x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t), beta_tilde_t) (Ho et al.,
            # eqs. 7, 11).
            "posterior_var": betas * (1 - alpha_bar_prev) / (1 - alpha_bar),
            "mean_scale": (1 - betas).rsqrt(),
            "eps_scale": betas / (1 - alpha_bar).sqrt(),
            # The same mean through x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar): c0 x_0 + ct x_t.
            "coef_x0": betas * alpha_bar_prev.sqrt() / (1 - alpha_bar),
            "coef_xt": (1 - betas).sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.float(), persistent=False)

    def _time(self, i: torch.Tensor) -> torch.Tensor:
        return (i.float() + 1) / self.steps

    def q_sample(self, x0: torch.Tensor, i: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t drawn in closed form from x_0 at (per-row) step indices ``i``."""
        ab = self.alpha_bar[i].reshape(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def loss(
        self, x0: torch.Tensor, context: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Ho et al.'s simple loss E ||eps - eps_theta(x_t, t)||^2 over uniform t (v in place of eps with
        ``prediction="v"``)."""
        i = torch.randint(0, self.steps, (x0.shape[0],), device=x0.device, generator=generator)
        noise = torch.randn(x0.shape, device=x0.device, generator=generator)
        target = noise
        if self.prediction == "v":
            ab = self.alpha_bar[i].reshape(-1, *([1] * (x0.dim() - 1)))
            target = ab.sqrt() * noise - (1 - ab).sqrt() * x0
        return nn.functional.mse_loss(self.denoiser(self.q_sample(x0, i, noise), self._time(i), context), target)

    def function_evaluations(self, resample: int = 1, **_) -> int:
        """Denoiser calls per ``sample`` (each with a batch of n rows)."""
        return self.steps + (self.steps - 1) * (resample - 1)

    def sample(
        self,
        n: int,
        context: torch.Tensor | None = None,
        *,
        known: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        resample: int = 1,
        guidance: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` ancestral samples of width ``denoiser.data_dim``; coordinates under ``mask`` follow ``known``.

        ``resample`` (RePaint's U) repeats each step that many times, re-noising one step in
        between so the generated part harmonises with the imposed part. ``guidance`` is the weight
        w_r of reconstruction guidance (0, the default, is plain replacement).
        """
        dim = self.denoiser.data_dim
        device = self.betas.device
        known, mask = _check_known(known, mask, n, dim)
        context = _context(context, n)

        def randn():
            return torch.randn(n, dim, device=device, generator=generator)

        x = randn()
        if known is not None:
            x = torch.where(mask, self.q_sample(known, torch.full((n,), self.steps - 1, device=device), randn()), x)
        for i in range(self.steps - 1, -1, -1):
            step = torch.full((n,), i, device=device)
            for u in range(resample if i > 0 else 1):
                x = self._step(x, step, i, context, known, mask, guidance, randn)
                if known is not None:
                    imposed = known if i == 0 else self.q_sample(known, step - 1, randn())
                    x = torch.where(mask, imposed, x)
                if u < resample - 1 and i > 0:
                    # Back to step i: x_t ~ q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t).
                    x = (1 - self.betas[i]).sqrt() * x + self.betas[i].sqrt() * randn()
        return x

    def _step(self, x, step, i, context, known, mask, guidance, randn):
        """One ancestral step x_t -> x_{t-1} (Ho et al., Algorithm 2), optionally guided or clipped."""
        guided = guidance > 0 and known is not None
        ab = self.alpha_bar[i]
        with torch.enable_grad() if guided else torch.no_grad():
            if guided:
                x = x.detach().requires_grad_(True)
            out = self.denoiser(x, self._time(step), context)
            if self.prediction == "eps":
                x0 = (x - (1 - ab).sqrt() * out) / ab.sqrt()
            else:  # v = sqrt(abar) eps - sqrt(1 - abar) x_0 and x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps
                x0 = ab.sqrt() * x - (1 - ab).sqrt() * out
            if guided:
                # Reconstruction guidance (Ho et al., Video Diffusion Models, arXiv:2204.03458, eq. 7):
                # x0 <- x0 - w sqrt(abar)/2 grad_{x_t} ||known - x0||^2 on the known coordinates.
                error = ((x0 - known) * mask).square().sum()
                x0 = x0 - guidance * ab.sqrt() / 2 * torch.autograd.grad(error, x)[0]
        x, out, x0 = x.detach(), out.detach(), x0.detach()
        if self.clip_x0 is None and not guided and self.prediction == "eps":
            # The epsilon form: exact in float32 even where abar_t ~ 0 and x_0 = .../sqrt(abar) is not.
            mean = self.mean_scale[i] * (x - self.eps_scale[i] * out)
        else:
            if self.clip_x0 is not None:
                x0 = x0.clamp(-self.clip_x0, self.clip_x0)
            mean = self.coef_x0[i] * x0 + self.coef_xt[i] * x
        return mean + self.posterior_var[i].sqrt() * randn() if i > 0 else mean


class FlowMatching(nn.Module):
    """Conditional flow matching with the linear path: x_t = (1 - t) z + t x, velocity x - z.

    Args:
        denoiser: ``net(x_t, t, context) -> velocity`` with t in [0, 1] (0 = noise, 1 = data).
        steps: default number of ODE steps for :meth:`sample` (default 50).
        method: default ODE solver, ``"euler"`` (one call a step) or ``"heun"`` (two).
    """

    def __init__(self, denoiser: nn.Module, steps: int = 50, method: Literal["euler", "heun"] = "euler"):
        super().__init__()
        self.denoiser, self.steps, self.method = denoiser, steps, method

    def loss(
        self, x1: torch.Tensor, context: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        z = torch.randn(x1.shape, device=x1.device, generator=generator)
        t = torch.rand(x1.shape[0], device=x1.device, generator=generator)
        xt = (1 - t[:, None]) * z + t[:, None] * x1
        return nn.functional.mse_loss(self.denoiser(xt, t, context), x1 - z)

    def function_evaluations(self, steps: int | None = None, method: str | None = None, resample: int = 1, **_) -> int:
        """Denoiser calls per ``sample``."""
        return (steps or self.steps) * (2 if (method or self.method) == "heun" else 1) * resample

    @torch.no_grad()
    def sample(
        self,
        n: int,
        context: torch.Tensor | None = None,
        *,
        known: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        steps: int | None = None,
        method: Literal["euler", "heun"] | None = None,
        resample: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Integrate the learned ODE from noise; coordinates under ``mask`` follow ``known``'s path.

        Replacement alone leaves the ODE no way to correct early mistakes in the generated part,
        so draws drift towards the unconditional distribution; ``resample`` > 1 repeats each
        step, moving back from t + dt to t in between with fresh noise (the linear path's
        x_t = (t / t') x_t' + noise of the missing variance), the analogue of RePaint's resampling.
        """
        steps, method = steps or self.steps, method or self.method
        if method not in ("euler", "heun"):
            raise ValueError(f"unknown ODE method {method!r}; use 'euler' or 'heun'")
        dim = self.denoiser.data_dim
        device = next(self.denoiser.parameters()).device
        known, mask = _check_known(known, mask, n, dim)
        context = _context(context, n)

        def randn():
            return torch.randn(n, dim, device=device, generator=generator)

        z = randn()
        x, dt = z, 1.0 / steps
        for k in range(steps):
            t, t_next = k * dt, (k + 1) * dt
            for u in range(resample):
                v = self.denoiser(x, torch.full((n,), t, device=device), context)
                if method == "heun":
                    v = 0.5 * (v + self.denoiser(x + dt * v, torch.full((n,), t_next, device=device), context))
                x = x + dt * v
                if known is not None:
                    x = torch.where(mask, (1 - t_next) * z + t_next * known, x)
                if u < resample - 1:
                    ratio = t / t_next
                    x = ratio * x + math.sqrt(max((1 - t) ** 2 - (ratio * (1 - t_next)) ** 2, 0.0)) * randn()
                    if known is not None:
                        x = torch.where(mask, (1 - t) * z + t * known, x)
        return x


def fit_generative(
    process: nn.Module,
    x: torch.Tensor,
    context: torch.Tensor | None = None,
    *,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    log_every: int = 500,
) -> list[float]:
    """Fit a :class:`GaussianDiffusion` or :class:`FlowMatching` by minibatch AdamW; returns the loss per step.

    A loop of its own rather than the Trainer: the loss draws fresh time and noise every batch
    and there is no label to validate against. Batches are drawn with replacement (seeded), and
    the learning rate follows a cosine decay to 10 % over ``steps``.
    """
    if context is not None and len(context) != len(x):
        raise ValueError(f"context has {len(context)} rows but x has {len(x)}; pass one context per row")
    generator = torch.Generator(device=x.device).manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(process.denoiser.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s / max(steps, 1), 1.0)))
    )
    process.train()
    losses = []
    for step in range(steps):
        rows = torch.randint(0, len(x), (min(batch_size, len(x)),), device=x.device, generator=generator)
        loss = process.loss(x[rows], None if context is None else context[rows], generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if log is not None and (step + 1) % log_every == 0:
            log(f"step {step + 1}/{steps}: loss {sum(losses[-log_every:]) / log_every:.4f}")
    process.eval()
    return losses
