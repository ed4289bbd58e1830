"""BilinearFusion: ``b + w1.o1 + w2.o2 + sum_j o1_j^T W3_j o2_j`` over heads (FinalMLP, section 3.3)."""

import numpy as np
import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.fusion import BilinearFusion


@pytest.mark.parametrize("dim1,dim2,heads", [(4, 2, 2), (4, 4, 2), (6, 3, 3), (4, 2, 1)])
def test_fusion_matches_explicit_loops(dim1, dim2, heads):
    rng = np.random.default_rng(dim1 * 10 + dim2 + heads)
    fusion = BilinearFusion(dim1, dim2, num_heads=heads)
    b = 0.7
    w1 = rng.normal(size=dim1)
    w2 = rng.normal(size=dim2)
    h1, h2 = dim1 // heads, dim2 // heads
    w3 = rng.normal(size=(heads, h1, h2))
    with torch.no_grad():
        fusion.linear1.weight.copy_(torch.tensor(w1).view(1, -1))
        fusion.linear1.bias.fill_(b)
        fusion.linear2.weight.copy_(torch.tensor(w2).view(1, -1))
        fusion.bilinear.copy_(torch.tensor(w3).unsqueeze(-1))
    o1 = rng.normal(size=(4, dim1))
    o2 = rng.normal(size=(4, dim2))
    expected = np.zeros(4)
    for n in range(4):
        total = b + w1 @ o1[n] + w2 @ o2[n]
        for j in range(heads):
            x = o1[n, j * h1 : (j + 1) * h1]
            y = o2[n, j * h2 : (j + 1) * h2]
            for p in range(h1):
                for q in range(h2):
                    total += x[p] * w3[j, p, q] * y[q]
        expected[n] = total
    out = fusion(torch.tensor(o1, dtype=torch.float32), torch.tensor(o2, dtype=torch.float32))
    assert out.shape == (4, 1)
    np.testing.assert_allclose(out.detach().numpy()[:, 0], expected, rtol=1e-5, atol=1e-5)


def test_heads_do_not_mix_chunks():
    # Only head 1 has a weight; perturbing head 0's inputs must then leave the bilinear term alone.
    fusion = BilinearFusion(4, 2, num_heads=2)
    with torch.no_grad():
        fusion.linear1.weight.zero_()
        fusion.linear2.weight.zero_()
        fusion.bilinear.zero_()
        fusion.bilinear[1, 0, 0, 0] = 1.0  # o1[2] * o2[1]
    o1 = torch.tensor([[5.0, 7.0, 2.0, 9.0]])
    o2 = torch.tensor([[11.0, 3.0]])
    assert fusion(o1, o2).item() == pytest.approx(2.0 * 3.0)


@pytest.mark.parametrize("dim1,dim2,heads", [(400, 100, 3), (4, 6, 4), (5, 10, 2), (4, 4, 0)])
def test_heads_must_divide_both_widths(dim1, dim2, heads):
    with pytest.raises(ConfigError) as info:
        BilinearFusion(dim1, dim2, num_heads=heads)
    message = str(info.value)
    assert str(dim1) in message and str(dim2) in message
    assert "\n" not in message


@pytest.mark.parametrize("dim1,dim2,heads", [(400, 100, 5), (8, 4, 4), (6, 6, 1)])
def test_bilinear_parameter_count(dim1, dim2, heads):
    fusion = BilinearFusion(dim1, dim2, num_heads=heads)
    assert fusion.bilinear.numel() == dim1 * dim2 // heads
    total = sum(p.numel() for p in fusion.parameters())
    assert total == dim1 * dim2 // heads + dim1 + dim2 + 1


@pytest.mark.parametrize("output_dim", [1, 3])
def test_training_path_matches_the_einsum_in_value_and_gradient(output_dim):
    torch.manual_seed(0)
    fusion = BilinearFusion(40, 10, num_heads=5, output_dim=output_dim).double()
    o1 = torch.randn(33, 40, dtype=torch.float64, requires_grad=True)
    o2 = torch.randn(33, 10, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(33, output_dim, dtype=torch.float64)
    trained = fusion.train()(o1, o2)
    assert trained.grad_fn is not None
    trained.backward(grad)
    tensors = [o1, o2, *fusion.parameters()]  # the bilinear blocks and linear1's weight and bias among them
    custom = [t.grad.clone() for t in tensors]
    for tensor in tensors:
        tensor.grad = None
    reference = fusion.eval()(o1, o2)  # evaluation takes the einsum (also what export traces)
    reference.backward(grad)
    assert torch.allclose(trained, reference)
    for mine, tensor in zip(custom, tensors):
        assert torch.allclose(mine, tensor.grad)
