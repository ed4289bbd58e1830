"""Argument and input checks shared by the KAN layers (one-line errors naming the field and the fix)."""

from __future__ import annotations

import math

import torch

from mlpzoo.errors import ConfigError, DataError


def check_sizes(layer: str, **sizes) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{layer} {name}={value!r}; pass a positive integer")


def check_range(layer: str, grid_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in grid_range)
    except (TypeError, ValueError):
        raise ConfigError(f"{layer} grid_range={grid_range!r}; pass (low, high) numbers") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"{layer} grid_range={grid_range!r}; pass finite (low, high) with low < high")
    return low, high


def check_tensor(x, layer: str, like: torch.Tensor | None = None) -> None:
    """``x`` is a floating tensor on the device of ``like`` (attribute checks only, no pass over values)."""
    if not isinstance(x, torch.Tensor):
        raise DataError(
            f"input to {layer} must be a torch.Tensor, got {type(x).__name__}; convert it with torch.as_tensor"
        )
    if not x.is_floating_point():
        raise DataError(f"input to {layer} has dtype {x.dtype}; cast it to a float dtype (x.float())")
    if like is not None and x.device != like.device:
        raise DataError(
            f"input to {layer} is on device {x.device} but the layer is on {like.device}; move one with .to(device)"
        )


def flatten_input(x: torch.Tensor, in_features: int, layer: str, like: torch.Tensor | None = None) -> torch.Tensor:
    """``(..., in) -> (N, in)``, checking type, width, device and that every value is finite."""
    check_tensor(x, layer, like)
    if x.dim() == 0 or x.shape[-1] != in_features:
        shape = tuple(x.shape)
        raise ConfigError(f"{layer} expects inputs (..., {in_features}), got {shape}; match in_features to the data")
    # The value check is data-dependent control flow, which an ONNX/torch.export trace cannot hold.
    if (
        x.numel()
        and not torch.compiler.is_exporting()
        and not bool(torch.isfinite(torch.stack(torch.aminmax(x.detach()))).all())
    ):
        # aminmax propagates NaN and is one reduction without a boolean temporary.
        raise DataError(f"input to {layer} holds NaN/inf; clean the data or normalise it")
    return x.reshape(-1, in_features)
