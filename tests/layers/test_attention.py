"""Self-attention in its three similarity modes, with and without W_v/W_o, against a written-out reference."""

import math

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.attention import SIMILARITIES, SelfAttention, TransformerBlock


def reference_attention(attn: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    """Loop over heads; explicit similarity, softmax and weighted sum."""
    d, outputs = attn.head_dim, []
    values = attn.value(x) if attn.value_output else x
    for h in range(attn.heads):
        part = slice(h * d, (h + 1) * d)
        if attn.similarity == "separate":
            q, k = attn.query(x)[..., part], attn.key(x)[..., part]
            scores = q @ k.transpose(-1, -2)
        else:
            xh = x[..., part]
            if attn.similarity == "collapsed":
                w = attn.w_qk[h]
            else:  # rebuild L entry by entry from the packed row-major lower triangle
                lower = torch.zeros(d, d, dtype=x.dtype)
                k = 0
                for i in range(d):
                    for j in range(i + 1):
                        lower[i, j] = attn.l_packed[h, k]
                        k += 1
                w = lower @ lower.T
            scores = xh @ w @ xh.transpose(-1, -2)
        weights = torch.softmax(scores / math.sqrt(d), dim=-1)
        outputs.append(weights @ values[..., part])
    mixed = torch.cat(outputs, dim=-1)
    return attn.out(mixed) if attn.value_output else mixed


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("value_output", [True, False])
@pytest.mark.parametrize("heads", [1, 2])
def test_matches_reference(similarity, value_output, heads):
    torch.manual_seed(0)
    attn = SelfAttention(8, heads, similarity, value_output)
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(attn(x), reference_attention(attn, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_gradcheck(similarity):
    torch.manual_seed(0)
    attn = SelfAttention(4, 2, similarity, value_output=similarity == "separate").double()
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(attn, (x,))
    attn(x).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in attn.parameters())


def test_parameter_counts():
    dim, heads = 16, 4

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(SelfAttention(dim, heads, "separate", True)) == 4 * (dim * dim + dim)
    assert count(SelfAttention(dim, 1, "collapsed", False)) == dim * dim
    assert count(SelfAttention(dim, heads, "collapsed", False)) == dim * dim // heads
    d = dim // heads
    assert count(SelfAttention(dim, heads, "symmetric", False)) == heads * d * (d + 1) // 2


def test_symmetric_similarity_is_symmetric():
    torch.manual_seed(0)
    w = SelfAttention(6, 1, "symmetric", False).similarity_matrix()[0]
    torch.testing.assert_close(w, w.T)
    assert torch.linalg.eigvalsh(w).min() > -1e-6


def test_block_with_and_without_mlp():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    bare = TransformerBlock(8, 2, "collapsed", False, mlp_ratio=0)
    assert bare.mlp is None
    torch.testing.assert_close(bare(x), x + bare.attention(bare.norm(x)))
    full = TransformerBlock(8, 2, mlp_ratio=4)
    assert full.mlp.hidden == 32
    after_attention = x + full.attention(full.norm(x))
    torch.testing.assert_close(full(x), full.mlp(after_attention))


def test_bad_arguments_and_inputs():
    with pytest.raises(ConfigError, match="similarity"):
        SelfAttention(8, 1, "cosine")
    with pytest.raises(ConfigError, match="divide"):
        SelfAttention(8, 3)
    with pytest.raises(ConfigError, match="mlp_ratio"):
        TransformerBlock(8, 1, mlp_ratio=-1)
    with pytest.raises(ConfigError, match=r"\(batch, tokens, 8\)"):
        SelfAttention(8)(torch.zeros(2, 5, 7))
    with pytest.raises(ConfigError):
        SelfAttention(8, 1, "separate").similarity_matrix()
