"""Quantisation-aware training helpers, integer-only inference and ONNX export for the CQMLP.

Paper: Khandelwal & Shreejith, "Exploring Highly Quantised Neural Networks for Intrusion
Detection in Automotive CAN", FPL 2023, arXiv:2401.11030 (catalog id ``cqmlp``). The paper
trains with Brevitas and compiles with FINN, whose dataflow hardware computes every hidden layer
as integer matrix-vector products followed by per-channel integer *thresholds* (batch norm and
the activation quantiser folded together). :func:`export_integer` builds that same computation:

- inputs become integer codes ``x_int = clamp(round(x / s_in), 0, 2^b - 1)``;
- each hidden layer: an integer accumulator ``acc = x_int @ W_int^T`` (int32), then the output
  code is the number of thresholds ``T_k`` (k = 1 .. 2^b - 1) with ``sign * acc >= T_k``;
- the head: ``acc + b_int`` (int32); its argmax is the class, ``(acc + b_int) * s`` the logits.

The thresholds are found by bisection over the integer accumulator range on the fake-quantised
model's own requantisation function (:meth:`mlpzoo.models.can.CQMLP.requantize`), which is
monotone in the accumulator; with power-of-two scales the fake-quantised float32 forward
computes ``acc * s`` exactly, so the integer path reproduces it code for code.

Also here: a class-weighted classification task for the heavily imbalanced CAN traces
(:class:`WeightedClassification`), model size in bits (:func:`model_size_bits`), ONNX export
checked with onnxruntime (:func:`export_onnx`), and per-message latency timing
(:func:`time_per_message`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.models.can import CQMLP
from mlpzoo.tasks.supervised import WeightedClassification

__all__ = [
    "IntegerMLP",
    "WeightedClassification",
    "class_weights",
    "export_integer",
    "export_onnx",
    "model_size_bits",
    "onnx_session",
    "time_per_message",
]

_EXACT_LIMIT = 1 << 24  # float32 represents every integer below this exactly


# ----------------------------------------------------------------------------- training


def class_weights(labels: np.ndarray, num_classes: int, power: float = 0.5) -> torch.Tensor:
    """Loss weights ``(n / count)^power`` normalised to mean 1 over present classes (absent: 0)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    present = counts > 0
    weights[present] /= weights[present].mean()
    return torch.tensor(weights, dtype=torch.float32)


# ----------------------------------------------------------------------------- integer-only inference


@dataclass
class IntegerMatmul:
    """``x_int @ W_int^T`` with int8 operands and int32 accumulators.

    Weights (narrow-range, at most 8 bits) fit int8; unsigned 8-bit inputs (0..255) are shifted
    by -128 into int8 and the shift is added back as ``128 * W.sum(1)``. Runs on torch's int8
    GEMM (``torch._int_mm``, oneDNN on CPU) where present, else on a plain int32 matmul.
    """

    weight_t: torch.Tensor  # (in, out) int8
    offset: int
    correction: torch.Tensor  # (out,) int32

    @classmethod
    def build(cls, weight: torch.Tensor, input_max: int) -> IntegerMatmul:
        offset = 128 if input_max > 127 else 0
        correction = (offset * weight.to(torch.int32).sum(dim=1)).to(torch.int32)
        return cls(weight.T.contiguous().to(torch.int8), offset, correction)

    def __call__(self, x_int: torch.Tensor) -> torch.Tensor:
        shifted = (x_int - self.offset).to(torch.int8)
        if _INT_MM is not None:
            return _INT_MM(shifted, self.weight_t) + self.correction
        return shifted.to(torch.int32) @ self.weight_t.to(torch.int32) + self.correction


_INT_MM = getattr(torch, "_int_mm", None)


@dataclass
class IntegerLayer:
    """One hidden layer: the integer product, per-channel sign ``(C,)`` and sorted thresholds ``(C, 2^b - 1)``."""

    matmul: IntegerMatmul
    sign: torch.Tensor
    thresholds: torch.Tensor
    acc_bits: int


@dataclass
class IntegerMLP:
    """Integer-only inference for a trained :class:`CQMLP` (built by :func:`export_integer`).

    Integer tensors throughout: int8 x int8 products into int32 accumulators, then per-channel
    threshold counting with ``torch.searchsorted``; the head adds its int32 bias.
    """

    input_scale: float
    input_max: int
    layers: list[IntegerLayer]
    head: IntegerMatmul
    head_bias: torch.Tensor
    head_scale: float
    head_acc_bits: int

    def quantize_input(self, x) -> torch.Tensor:
        """Feature values in [0, 1] to integer codes (the one float step, done at ingestion)."""
        x = torch.as_tensor(x, dtype=torch.float32)
        return torch.clamp(torch.round(x / self.input_scale), 0, self.input_max).to(torch.int32)

    def integer_logits(self, x_int: torch.Tensor) -> torch.Tensor:
        """int32 head accumulators ``(B, classes)`` from integer input codes ``(B, in)``."""
        h = x_int
        for layer in self.layers:
            acc = layer.matmul(h) * layer.sign
            # Output code = how many of the channel's sorted thresholds the accumulator reaches.
            h = torch.searchsorted(layer.thresholds, acc.T.contiguous(), right=True).T.to(torch.int32)
        return self.head(h) + self.head_bias

    def predict(self, x) -> np.ndarray:
        return self.integer_logits(self.quantize_input(x)).argmax(dim=1).numpy()

    def logits(self, x) -> np.ndarray:
        return self.integer_logits(self.quantize_input(x)).numpy().astype(np.float64) * self.head_scale

    def size_bits(self, weight_bits: list[int]) -> dict[str, int]:
        """Storage in bits: integer weights, thresholds and head biases (at their accumulator widths)."""
        weights = sum(layer.matmul.weight_t.numel() * b for layer, b in zip(self.layers, weight_bits))
        weights += self.head.weight_t.numel() * weight_bits[-1]
        thresholds = sum(layer.thresholds.numel() * layer.acc_bits for layer in self.layers)
        biases = self.head_bias.numel() * self.head_acc_bits
        return {"weight_bits": int(weights), "total_bits": int(weights + thresholds + biases)}


def _int_weight(linear: nn.Module) -> tuple[torch.Tensor, float]:
    """Integer weight codes and the power-of-two weight scale of a QuantLinear."""
    scale = float(linear.weight_quant.scale())
    return (linear.quantized_weight() / scale).round().to(torch.int32), scale


def _signed_bits(bound: int) -> int:
    return math.ceil(math.log2(bound + 1)) + 1


@torch.no_grad()
def _thresholds(model: CQMLP, index: int, acc_scale: float, bound: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel sign and thresholds of hidden layer ``index`` by bisection over ``[-bound, bound]``."""
    channels = model.hidden[index]
    act = model.acts[index]
    levels = act.quant.qmax
    out_scale = float(act.scale())
    gain = model.norms[index].weight / torch.sqrt(model.norms[index].running_var + model.norms[index].eps)
    sign = torch.where(gain < 0, -1, 1).to(torch.int64)
    k = torch.arange(1, levels + 1, dtype=torch.int64)[:, None].expand(levels, channels)
    lo = torch.full((levels, channels), -bound, dtype=torch.int64)
    hi = torch.full((levels, channels), bound + 1, dtype=torch.int64)  # bound + 1: level never reached

    def level(acc: torch.Tensor) -> torch.Tensor:
        z = (acc * sign).to(torch.float32) * acc_scale  # exact: |acc| < 2^24, power-of-two scale
        return torch.round(model.requantize(index, z) / out_scale).to(torch.int64)

    while bool((lo < hi).any()):
        mid = torch.div(lo + hi, 2, rounding_mode="floor")
        reached = level(mid) >= k
        hi = torch.where(reached & (lo < hi), mid, hi)
        lo = torch.where(~reached & (lo < hi), mid + 1, lo)
    return sign.to(torch.int32), lo.T.contiguous().to(torch.int32)


@torch.no_grad()
def export_integer(model: CQMLP) -> IntegerMLP:
    """The integer-only twin of a trained quantised :class:`CQMLP` (evaluation mode)."""
    if not isinstance(model, CQMLP) or not model.quantized:
        raise ConfigError("export_integer needs a quantised CQMLP (weight_bits, act_bits and input_bits set)")
    model.eval()
    input_scale = float(model.input_quant.scale())
    x_max = model.input_quant.quant.qmax
    x_scale = input_scale
    layers = []
    for index, linear in enumerate(model.linears):
        weight, w_scale = _int_weight(linear)
        bound = int(weight.abs().sum(dim=1).max()) * x_max
        if bound >= _EXACT_LIMIT:
            raise ConfigError(
                f"layer {index}: accumulators reach {bound} >= 2^24, beyond exact float32; use fewer bits or a "
                "narrower layer"
            )
        sign, thresholds = _thresholds(model, index, x_scale * w_scale, bound)
        layers.append(IntegerLayer(IntegerMatmul.build(weight, x_max), sign, thresholds, _signed_bits(bound)))
        x_max, x_scale = model.acts[index].quant.qmax, float(model.acts[index].scale())
    head_weight, w_scale = _int_weight(model.head)
    acc_scale = x_scale * w_scale
    head_bias = (model.head.bias / acc_scale).round().to(torch.int32)
    bound = int(head_weight.abs().sum(dim=1).max()) * x_max + int(head_bias.abs().max())
    if bound >= _EXACT_LIMIT:
        raise ConfigError(f"head: accumulators reach {bound} >= 2^24, beyond exact float32; use fewer bits")
    return IntegerMLP(
        input_scale,
        model.input_quant.quant.qmax,
        layers,
        IntegerMatmul.build(head_weight, x_max),
        head_bias,
        acc_scale,
        _signed_bits(bound),
    )


def model_size_bits(model: CQMLP) -> dict[str, int]:
    """Deployed size: a float model as folded float32 weights and biases; a quantised one from its integer export."""
    if model.quantized:
        return export_integer(model).size_bits(model.weight_bits)
    weights = sum(m.weight.numel() for m in [*model.linears, model.head])
    biases = sum(model.hidden) + model.num_classes  # batch norm folds into one bias per channel
    return {"weight_bits": 32 * weights, "total_bits": 32 * (weights + biases)}


# ----------------------------------------------------------------------------- ONNX


def export_onnx(model: nn.Module, path: str | os.PathLike[str], in_features: int) -> Path:
    """Write ``model`` (evaluation mode, fake-quantised ops as Div/Round/Clip/Mul) as ONNX with a dynamic batch."""
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    example = torch.rand(2, in_features)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
    return path


def onnx_session(path: str | os.PathLike[str]):
    """A single-threaded onnxruntime session for ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# ----------------------------------------------------------------------------- timing


def time_per_message(
    predict: Callable[[np.ndarray], object], x: np.ndarray, batch: int, min_seconds: float = 0.2, max_calls: int = 2000
) -> dict[str, float]:
    """Median seconds per call of ``predict`` on ``batch`` rows, per message, and messages/s."""
    rows = x[:batch]
    if len(rows) < batch:
        rows = np.resize(rows, (batch, x.shape[1]))
    for _ in range(3):
        predict(rows)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_calls and (time.perf_counter() - start < min_seconds or len(times) < 5):
        t0 = time.perf_counter()
        predict(rows)
        times.append(time.perf_counter() - t0)
    per_call = float(np.median(times))
    return {
        "seconds_per_call": per_call,
        "ms_per_message": 1e3 * per_call / batch,
        "messages_per_second": batch / per_call,
    }
