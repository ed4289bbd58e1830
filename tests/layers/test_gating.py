"""FeatureGating: ``2 * sigmoid(gate(context)) * e`` (FinalMLP, section 3.2)."""

import numpy as np
import torch
from torch import nn

from mlpzoo.layers.gating import FeatureGating


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_gate_with_context_matches_hand_computation():
    torch.manual_seed(0)
    gating = FeatureGating(feature_dim=3, context_dim=2, hidden_units=(2,))
    linears = [m for m in gating.gate if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(2, 2), (3, 2)]
    w1 = np.array([[1.0, -2.0], [0.5, 0.25]])
    b1 = np.array([0.1, -0.3])
    w2 = np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, -0.5]])
    b2 = np.array([0.0, 0.2, -0.1])
    with torch.no_grad():
        for layer, (w, b) in zip(linears, [(w1, b1), (w2, b2)]):
            layer.weight.copy_(torch.tensor(w))
            layer.bias.copy_(torch.tensor(b))
    context = np.array([[1.0, 2.0], [-1.0, 0.5]])
    features = np.array([[1.0, -2.0, 3.0], [0.5, 0.5, -1.0]])
    hidden = np.maximum(context @ w1.T + b1, 0.0)
    expected = 2.0 * _sigmoid(hidden @ w2.T + b2) * features
    out = gating(torch.tensor(features, dtype=torch.float32), torch.tensor(context, dtype=torch.float32))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    # The gate is not the identity here: the hand-set weights really change the features.
    assert not np.allclose(expected, features)


def test_gate_depends_on_context():
    torch.manual_seed(1)
    gating = FeatureGating(feature_dim=4, context_dim=3, hidden_units=(5,))
    features = torch.ones(2, 4)
    context = torch.tensor([[1.0, 0.0, -1.0], [3.0, -2.0, 0.5]])
    out = gating(features, context)
    assert not torch.allclose(out[0], out[1])


def test_context_gate_requires_context():
    gating = FeatureGating(feature_dim=4, context_dim=3, hidden_units=(5,))
    try:
        gating(torch.ones(2, 4))
    except ValueError as err:
        assert "context" in str(err)
    else:
        raise AssertionError("FeatureGating with context fields accepted a missing context")


def test_no_context_gate_is_input_independent():
    torch.manual_seed(2)
    gating = FeatureGating(feature_dim=4, context_dim=0, hidden_units=(6,), bias_dim=3)
    assert gating.context_bias is not None and tuple(gating.context_bias.shape) == (1, 3)
    # Started away from zero so the ReLU layer is not dead (see the class docstring).
    assert gating.context_bias.abs().sum() > 0
    features = torch.tensor([[1.0, -2.0, 3.0, 0.5], [-4.0, 0.25, 2.0, 7.0]])
    out = gating(features)
    # Expected from the module's own weights: gate(context_bias) through relu and the output layer.
    linears = [m for m in gating.gate if isinstance(m, nn.Linear)]
    hidden = torch.relu(linears[0](gating.context_bias))
    gate = 2.0 * torch.sigmoid(linears[1](hidden))
    torch.testing.assert_close(out, gate * features)
    # The gate is the same vector for every row.
    ratio = out / features
    torch.testing.assert_close(ratio[0], ratio[1])


def test_gradient_reaches_context_bias():
    torch.manual_seed(3)
    # Without hidden layers the gradient reaches the learnable context vector at init.
    gating = FeatureGating(feature_dim=4, context_dim=0, hidden_units=(), bias_dim=3)
    features = torch.randn(5, 4)
    gating(features).pow(2).sum().backward()
    assert gating.context_bias.grad is not None
    assert gating.context_bias.grad.abs().sum() > 0

    # With a ReLU hidden layer the gradient reaches it, and the hidden layer, from the start.
    gating = FeatureGating(feature_dim=4, context_dim=0, hidden_units=(6,), bias_dim=3)
    gating(features).pow(2).sum().backward()
    assert gating.context_bias.grad is not None
    assert gating.context_bias.grad.abs().sum() > 0
    assert gating.gate[0].weight.grad.abs().sum() > 0
