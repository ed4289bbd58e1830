"""GPD: zero-shot forecasting with an unconditional diffusion model of time-series windows.

Yang et al., "Generative Pre-Trained Diffusion Paradigm for Zero-Shot Time Series
Forecasting", 2024 (arXiv:2406.02212). An MLP diffusion network is pretrained, without any
conditioning, on windows of one or more source series; a forecast for a new series is a draw
of the window whose leading part is the observed history: the history is imposed during
sampling (RePaint-style replacement, optionally with resampling and reconstruction guidance,
see :mod:`mlpzoo.methods.generative`), and the point forecast is the mean of a few draws.

Our choices where the abstract leaves them open, all exposed as arguments:

- Channel independence: every channel of a multivariate series is a separate univariate window
  (as in DLinear/PatchTST), so one model serves series with any number of channels.
- Layout: a window of length W holds ``[free prefix | history h | horizon H]`` with the
  forecast at the end; any h >= 1 and H >= 1 with h + H <= W work without retraining (the
  prefix, when h + H < W, is generated and discarded).
- Level: with ``center=True`` (default) each window is shifted by the mean of its history
  (pretraining uses the first W - ``pretrain_horizon`` positions as the history), as NLinear
  does, so a level shift between source and target does not leave the model's range.
- Prediction target: the denoiser predicts v (``prediction="v"``, default; Salimans & Ho 2022),
  not the noise. Measured on ETTh1 (width 192, 3,000 steps, in-domain): with noise prediction,
  unconditional draws had 5x the data's spread (std 3.7 against 0.69, held only by the x_0 clip)
  and the 96-hour forecast an MSE of 2.04 against seasonal naive's 0.53; with v prediction, std
  0.70 and MSE 0.47.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from mlpzoo.data.ett import make_windows
from mlpzoo.errors import DataError
from mlpzoo.layers.denoise import ResidualMLPDenoiser
from mlpzoo.methods.generative import GaussianDiffusion, fit_generative

__all__ = ["GPDForecaster"]


class GPDForecaster:
    """Pretrain with :meth:`fit` on source series, then :meth:`forecast` any target history.

    Args:
        window: W, the length of the modelled windows (default 192 = 96 history + 96 horizon).
        pretrain_horizon: the horizon part used to centre pretraining windows (default W // 2).
        hidden_dim, n_blocks: size of the residual-MLP denoiser (defaults 256, 3).
        diffusion_steps: T of the DDPM (default 200).
        schedule: ``"linear"`` (default) or ``"cosine"`` noise schedule.
        center: shift each window by its history mean (default True).
        clip_x0: optional clamp of the x_0 estimate during sampling (default None).
        prediction: what the denoiser predicts, ``"v"`` (default) or ``"eps"`` (see the module docstring).
    """

    def __init__(
        self,
        window: int = 192,
        pretrain_horizon: int | None = None,
        hidden_dim: int = 256,
        n_blocks: int = 3,
        diffusion_steps: int = 200,
        schedule: str = "linear",
        center: bool = True,
        clip_x0: float | None = None,
        prediction: str = "v",
    ):
        if window < 2:
            raise DataError(f"GPD window must be >= 2; got {window}")
        self.window = window
        self.pretrain_horizon = window // 2 if pretrain_horizon is None else pretrain_horizon
        if not 1 <= self.pretrain_horizon < window:
            raise DataError(f"pretrain_horizon={self.pretrain_horizon} must lie in [1, {window - 1}]")
        self.hidden_dim, self.n_blocks = hidden_dim, n_blocks
        self.diffusion_steps, self.schedule, self.center, self.clip_x0 = diffusion_steps, schedule, center, clip_x0
        if prediction not in ("v", "eps"):
            raise DataError(f"GPD prediction={prediction!r}; use 'v' (default) or 'eps'")
        self.prediction = prediction
        self.process_: GaussianDiffusion | None = None

    def _windows(self, series: np.ndarray) -> np.ndarray:
        """All univariate windows of length W of a (T,) or (T, C) series: (N * C, W) float32."""
        series = np.asarray(series, dtype=np.float32)
        if not np.isfinite(series).all():
            raise DataError("GPD got NaN or infinite values in a training series; fill or drop the gaps first")
        history, horizon = make_windows(series, self.window - self.pretrain_horizon, self.pretrain_horizon)
        full = np.concatenate([history, horizon], axis=1)  # (N, W[, C])
        if full.ndim == 3:
            full = full.transpose(0, 2, 1).reshape(-1, self.window)
        if self.center:
            full = full - full[:, : self.window - self.pretrain_horizon].mean(1, keepdims=True)
        return full

    def fit(
        self,
        series: list[np.ndarray] | np.ndarray,
        *,
        steps: int = 5000,
        batch_size: int = 256,
        lr: float = 1e-3,
        seed: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> GPDForecaster:
        """Pretrain on every window of ``series`` (one array or a list of (T,) / (T, C) arrays)."""
        arrays = [series] if isinstance(series, np.ndarray) else list(series)
        windows = torch.from_numpy(np.concatenate([self._windows(a) for a in arrays]))
        torch.manual_seed(seed)
        denoiser = ResidualMLPDenoiser(self.window, hidden_dim=self.hidden_dim, n_blocks=self.n_blocks)
        self.process_ = GaussianDiffusion(
            denoiser, self.diffusion_steps, self.schedule, self.clip_x0, prediction=self.prediction
        )
        self.losses_ = fit_generative(
            self.process_, windows, steps=steps, batch_size=batch_size, lr=lr, seed=seed, log=log
        )
        return self

    @torch.no_grad()
    def forecast(
        self,
        history: np.ndarray,
        horizon: int,
        *,
        n_samples: int = 8,
        resample: int = 1,
        guidance: float = 0.0,
        seed: int = 0,
        batch_rows: int = 8192,
    ) -> np.ndarray:
        """Mean of ``n_samples`` conditional draws: (N, h) histories -> (N, horizon) forecasts.

        ``history`` may also be (N, h, C): channels are forecast independently and the result
        is (N, horizon, C). ``batch_rows`` bounds the rows sampled at once (memory).
        """
        if self.process_ is None:
            raise DataError("GPDForecaster.forecast called before fit; pretrain it on source series first")
        history = np.asarray(history, dtype=np.float32)
        channels = history.ndim == 3
        if channels:
            n, h, c = history.shape
            history = history.transpose(0, 2, 1).reshape(n * c, h)
        if history.ndim != 2 or history.shape[1] < 1:
            raise DataError(f"GPD history must be (N, h) or (N, h, C) with h >= 1; got shape {history.shape}")
        if not np.isfinite(history).all():
            raise DataError("GPD history has NaN or infinite values; fill the gaps before forecasting")
        h = history.shape[1]
        if horizon < 1 or h + horizon > self.window:
            raise DataError(
                f"history {h} + horizon {horizon} does not fit the pretrained window of {self.window}; "
                f"use h + horizon <= {self.window} or pretrain a longer window"
            )
        offset = history.mean(1, keepdims=True) if self.center else np.zeros((len(history), 1), np.float32)
        start = self.window - horizon - h
        known = np.zeros((len(history), self.window), np.float32)
        known[:, start : start + h] = history - offset
        mask = torch.zeros(self.window, dtype=torch.bool)
        mask[start : start + h] = True
        generator = torch.Generator().manual_seed(seed)
        rows = torch.from_numpy(known).repeat_interleave(n_samples, 0)
        draws = []
        for chunk in rows.split(max(batch_rows // n_samples, 1) * n_samples):
            draws.append(
                self.process_.sample(
                    len(chunk), known=chunk, mask=mask, resample=resample, guidance=guidance, generator=generator
                )
            )
        samples = torch.cat(draws)[:, self.window - horizon :].reshape(len(history), n_samples, horizon)
        forecast = samples.mean(1).numpy() + offset
        if channels:
            forecast = forecast.reshape(n, c, horizon).transpose(0, 2, 1)
        return forecast
