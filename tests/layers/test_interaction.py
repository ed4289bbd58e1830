"""Factorization machine and cross networks against their formulas, computed by hand."""

import numpy as np
import torch

from mlpzoo.layers.interaction import CrossNetwork, CrossNetworkV2, FactorizationMachine


def test_fm_equals_explicit_pairwise_sum():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(3, 5, 4))
    out = FactorizationMachine()(torch.tensor(e))
    assert out.shape == (3, 1)
    expected = np.zeros(3)
    for b in range(3):
        for i in range(5):
            for j in range(i + 1, 5):
                expected[b] += e[b, i] @ e[b, j]
    np.testing.assert_allclose(out.numpy()[:, 0], expected, rtol=1e-10)


def test_fm_single_field_is_zero():
    assert FactorizationMachine()(torch.randn(2, 1, 3)).abs().max() < 1e-6


def test_cross_network_one_layer_by_hand():
    net = CrossNetwork(3, num_layers=1)
    w = np.array([0.5, -1.0, 2.0])
    b = np.array([0.1, 0.2, -0.3])
    with torch.no_grad():
        net.weights[0].copy_(torch.tensor(w))
        net.biases[0].copy_(torch.tensor(b))
    x0 = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    # x1 = x0 * (x0 . w) + b + x0
    expected = x0 * (x0 @ w)[:, None] + b + x0
    out = net(torch.tensor(x0, dtype=torch.float32))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6)
    # row 0: x0.w = 0.5 - 2 + 6 = 4.5 -> [1*4.5+0.1+1, 2*4.5+0.2+2, 3*4.5-0.3+3]
    np.testing.assert_allclose(out.detach().numpy()[0], [5.6, 11.2, 16.2], rtol=1e-6)


def test_cross_network_two_layers_uses_x0_each_time():
    torch.manual_seed(0)
    net = CrossNetwork(4, num_layers=2)
    x0 = torch.randn(5, 4)
    x = x0
    for w, b in zip(net.weights, net.biases):
        x = x0 * (x @ w).unsqueeze(-1) + b + x
    torch.testing.assert_close(net(x0), x)
    w0, w1 = net.weights[0].detach(), net.weights[1].detach()
    x1 = x0 * (x0 @ w0)[:, None] + x0
    x2 = x0 * (x1 @ w1)[:, None] + x1
    torch.testing.assert_close(net(x0), x2)


def test_cross_network_v2_one_layer_by_hand():
    net = CrossNetworkV2(2, num_layers=1)
    W = np.array([[1.0, 2.0], [-0.5, 0.25]])
    b = np.array([0.5, -1.0])
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor(W))
        net.layers[0].bias.copy_(torch.tensor(b))
    x0 = np.array([[2.0, -1.0], [0.0, 4.0]])
    expected = x0 * (x0 @ W.T + b) + x0
    out = net(torch.tensor(x0, dtype=torch.float32))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6)
    # row 0: W x0 + b = [0.5, -2.25]; x1 = [2*0.5+2, -1*-2.25-1]
    np.testing.assert_allclose(out.detach().numpy()[0], [3.0, 1.25], rtol=1e-6)


def test_cross_network_v2_init_and_layers():
    torch.manual_seed(1)
    net = CrossNetworkV2(6, num_layers=3)
    assert len(net.layers) == 3
    for layer in net.layers:
        assert torch.equal(layer.bias, torch.zeros(6))
    x0 = torch.randn(4, 6)
    x = x0
    for layer in net.layers:
        x = x0 * layer(x) + x
    torch.testing.assert_close(net(x0), x)
