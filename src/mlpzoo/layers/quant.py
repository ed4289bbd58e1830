"""Fake-quantisation layers for n-bit quantisation-aware training (1 to 8 bits, per layer).

Used by the custom-quantised MLP of Khandelwal & Shreejith, "Exploring Highly Quantised Neural
Networks for Intrusion Detection in Automotive CAN", 2023, arXiv:2401.11030 (catalog id
``cqmlp``), which trains with Brevitas and deploys with FINN. These layers follow the same
recipe in plain torch:

- Uniform quantisers with a learned power-of-two scale (as Brevitas' fixed-point quantisers and
  FINN's integer hardware use). Weights are signed and narrow-range (``b`` bits: integers in
  ``[-(2^(b-1) - 1), 2^(b-1) - 1]``, so 2 bits is ternary), 1-bit weights are binary ``+-s``;
  activations are unsigned ReLU outputs in ``[0, 2^b - 1]``.
- The straight-through estimator: rounding passes its gradient through unchanged; clamping
  stops it outside the range (and binarisation outside ``|w| <= s``). The log2 scale learns
  with LSQ's gradient (Esser et al., 2020, arXiv:1902.08153), scaled by ``1/sqrt(n * qmax)``.

Power-of-two scales make the fake-quantised forward exact in float32: products of small
integers scaled by powers of two are represented exactly and their sums too while below 2^24,
so the integer-only path of :mod:`mlpzoo.methods.quantize` reproduces it bit for bit.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.errors import ConfigError

MIN_BITS, MAX_BITS = 1, 8


def check_bits(bits, name: str = "bits") -> int:
    """``bits`` as an int in 1..8, else a one-line :class:`ConfigError` naming ``name``."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ConfigError(
            f"{name} = {bits!r} must be an integer from {MIN_BITS} to {MAX_BITS} (or None for a float layer)"
        )
    return bits


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _SignSTE(torch.autograd.Function):
    """sign with sign(0) = +1; the gradient passes where ``|x| <= 1`` (BinaryConnect's clipped STE)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class _GradScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor: float):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def _records_grad(x: torch.Tensor) -> bool:
    # Plain ops when autograd is off, so that inference traces (ONNX export) see no autograd.Function.
    return torch.is_grad_enabled() and x.requires_grad


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to nearest (ties to even); the gradient passes straight through."""
    return _RoundSTE.apply(x) if _records_grad(x) else torch.round(x)


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    return _SignSTE.apply(x) if _records_grad(x) else torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


class Quantizer(nn.Module):
    """Uniform fake-quantiser with a learned power-of-two scale ``s = 2^round(log2_scale)``.

    Args:
        bits: 1..8.
        signed: signed narrow range (weights) or unsigned ``[0, 2^b - 1]`` (activations).
        init_scale: the scale before training (rounded to a power of two in the forward).
        learn_scale: whether ``log2_scale`` is a trained parameter.
    """

    def __init__(self, bits: int, signed: bool, init_scale: float = 1.0, learn_scale: bool = True):
        super().__init__()
        self.bits = check_bits(bits)
        self.signed = signed
        log2 = torch.tensor(math.log2(init_scale))
        if learn_scale:
            self.log2_scale = nn.Parameter(log2)
        else:
            self.register_buffer("log2_scale", log2)

    @property
    def qmin(self) -> int:
        return -(2 ** (self.bits - 1) - 1) if self.signed and self.bits > 1 else (-1 if self.signed else 0)

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed and self.bits > 1 else (1 if self.signed else 2**self.bits - 1)

    @property
    def binary(self) -> bool:
        return self.signed and self.bits == 1

    def scale(self, numel: int = 1) -> torch.Tensor:
        log2 = self.log2_scale
        if _records_grad(log2):
            log2 = _GradScale.apply(log2, 1.0 / math.sqrt(max(numel, 1) * self.qmax))
        return torch.pow(2.0, round_ste(log2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale(x.numel() if self.signed else x[0].numel())
        if self.binary:
            return sign_ste(x / s) * s
        return torch.clamp(round_ste(x / s), self.qmin, self.qmax) * s

    def extra_repr(self) -> str:
        return f"bits={self.bits}, signed={self.signed}, range=[{self.qmin}, {self.qmax}]"


class QuantLinear(nn.Linear):
    """``nn.Linear`` whose weight is fake-quantised to ``weight_bits``.

    The bias, when present, is quantised to the accumulator's scale (input scale times weight
    scale) and rounded to an integer there, as integer-only inference adds it to the int32
    accumulator; ``input_scale`` must then be passed to :meth:`forward`.
    """

    def __init__(self, in_features: int, out_features: int, weight_bits: int, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self.weight_quant = Quantizer(weight_bits, signed=True, init_scale=self._init_scale(weight_bits))

    def _init_scale(self, bits: int) -> float:
        mean_abs = float(self.weight.detach().abs().mean())
        qmax = 1 if bits == 1 else 2 ** (bits - 1) - 1
        return max(mean_abs if bits == 1 else 2 * mean_abs / math.sqrt(qmax), 1e-8)  # LSQ's initialisation

    def reset_scale(self) -> None:
        """Re-initialise the weight scale from the current weights (after a custom weight init)."""
        with torch.no_grad():
            self.weight_quant.log2_scale.fill_(math.log2(self._init_scale(self.weight_quant.bits)))

    def quantized_weight(self) -> torch.Tensor:
        return self.weight_quant(self.weight)

    def forward(self, x: torch.Tensor, input_scale: torch.Tensor | None = None) -> torch.Tensor:
        w = self.quantized_weight()
        out = nn.functional.linear(x, w)
        if self.bias is None:
            return out
        if input_scale is None:
            raise ValueError("QuantLinear with a bias needs input_scale (the scale of its quantised input)")
        acc_scale = input_scale * self.weight_quant.scale(self.weight.numel())
        return out + round_ste(self.bias / acc_scale) * acc_scale


class QuantReLU(nn.Module):
    """ReLU followed by unsigned ``bits``-bit fake-quantisation (learned power-of-two scale).

    ``max_value`` sets the initial range: the scale starts at ``max_value / (2^bits - 1)``.
    """

    def __init__(self, bits: int, max_value: float = 4.0):
        super().__init__()
        self.quant = Quantizer(bits, signed=False, init_scale=max_value / (2 ** check_bits(bits) - 1))

    def scale(self) -> torch.Tensor:
        return self.quant.scale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quant(torch.relu(x))


class QuantInput(nn.Module):
    """Fixed unsigned fixed-point quantisation of inputs in [0, 1]: scale ``2^-(bits-1)``.

    One is exactly representable, so binary features stay exact; a continuous feature in
    [0, 1] keeps ``bits - 1`` fractional bits (1 bit: a threshold at 0.5).
    """

    def __init__(self, bits: int = 8):
        super().__init__()
        self.quant = Quantizer(bits, signed=False, init_scale=2.0 ** -(check_bits(bits) - 1), learn_scale=False)

    def scale(self) -> torch.Tensor:
        return self.quant.scale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quant(x)


def folded_batchnorm(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference-time batch norm as ``y = z * gain + shift`` (per channel, float32)."""
    gain = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return gain, bn.bias - bn.running_mean * gain
