"""Integer-only inference equals the fake-quantised model; ONNX export; sizes; class weights; timing."""

import numpy as np
import pytest
import torch

from mlpzoo import create_model
from mlpzoo.errors import ConfigError
from mlpzoo.methods.quantize import (
    class_weights,
    export_integer,
    export_onnx,
    model_size_bits,
    onnx_session,
    time_per_message,
)


def _trained_like(seed: int = 0, **kwargs):
    """A quantised model whose batch-norm statistics and scales moved away from their initial values."""
    torch.manual_seed(seed)
    model = create_model("cqmlp_2bit", in_features=20, num_classes=5, hidden=(32, 16), **kwargs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.rand(256, 20), torch.randint(0, 5, (256,))
    for _ in range(15):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():  # negative batch-norm gains exercise the decreasing thresholds
        model.norms[0].weight[:4] *= -1
    return model.eval()


def _reference_integer_forward(model, x: torch.Tensor) -> torch.Tensor:
    """Slow reference: integer codes layer by layer, requantised with float64 arithmetic."""
    with torch.no_grad():
        s_x = float(model.input_quant.scale())
        h = torch.clamp(torch.round(x / s_x), 0, model.input_quant.quant.qmax).double()
        for i, linear in enumerate(model.linears):
            s_w = float(linear.weight_quant.scale())
            acc = h @ (linear.quantized_weight().double() / s_w).T
            norm = model.norms[i]
            gain = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)
            y = acc * s_x * s_w * gain + (norm.bias.double() - norm.running_mean.double() * gain)
            s_x = float(model.acts[i].scale())
            h = torch.clamp(torch.round(torch.relu(y) / s_x), 0, model.acts[i].quant.qmax)
        s_w = float(model.head.weight_quant.scale())
        acc = h @ (model.head.quantized_weight().double() / s_w).T + torch.round(model.head.bias.double() / (s_x * s_w))
        return acc * s_x * s_w


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"weight_bits": 4, "act_bits": 4},
        {"weight_bits": 8, "act_bits": 8},
        {"weight_bits": 1, "act_bits": 1, "input_bits": 1},
        {"weight_bits": [1, 3, 8], "act_bits": [8, 2], "input_bits": 6},
    ],
)
def test_integer_path_equals_fake_quant_model(kwargs):
    model = _trained_like(**kwargs)
    x = torch.rand(3000, 20)
    with torch.no_grad():
        fake = model(x).numpy()
    integer = export_integer(model)
    logits = integer.logits(x.numpy())
    assert np.array_equal(integer.predict(x.numpy()), fake.argmax(1))
    np.testing.assert_allclose(logits, fake, rtol=1e-6, atol=1e-6)
    reference = _reference_integer_forward(model, x).numpy()
    assert np.mean(reference.argmax(1) == fake.argmax(1)) > 0.99  # float64 requantisation may differ at ties
    assert all(layer.thresholds.dtype == torch.int32 for layer in integer.layers)
    assert integer.integer_logits(integer.quantize_input(x[:4])).dtype == torch.int32


def test_export_integer_needs_a_quantised_model():
    with pytest.raises(ConfigError, match="quantised CQMLP"):
        export_integer(create_model("cqmlp_float"))


def test_onnx_export_matches_pytorch(tmp_path):
    model = _trained_like(1)
    path = export_onnx(model, tmp_path / "detector.onnx", 20)
    x = torch.rand(500, 20)
    out = onnx_session(path).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        expected = model(x).numpy()
    assert out.shape == (500, 5)
    assert np.array_equal(out.argmax(1), expected.argmax(1))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_model_size_in_bits():
    flt = create_model("cqmlp_float", in_features=20, num_classes=5, hidden=(32, 16))
    weights = 20 * 32 + 32 * 16 + 16 * 5
    assert model_size_bits(flt) == {"weight_bits": 32 * weights, "total_bits": 32 * (weights + 32 + 16 + 5)}
    two = _trained_like()
    size = model_size_bits(two)
    assert size["weight_bits"] == 2 * weights
    assert size["weight_bits"] < size["total_bits"] < model_size_bits(flt)["total_bits"] / 4


def test_class_weights():
    w = class_weights(np.array([0] * 900 + [1] * 100), 3)
    assert w[2] == 0 and w[1] / w[0] == pytest.approx(3.0)
    assert float(w[:2].mean()) == pytest.approx(1.0)


def test_time_per_message_reports_consistent_units():
    timing = time_per_message(lambda rows: rows.sum(axis=1), np.ones((10, 4)), batch=32, min_seconds=0.01)
    assert timing["messages_per_second"] == pytest.approx(32 / timing["seconds_per_call"])
    assert timing["ms_per_message"] == pytest.approx(1e3 * timing["seconds_per_call"] / 32)
