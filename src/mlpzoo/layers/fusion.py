"""Multi-head bilinear fusion of two streams (FinalMLP, section 3.3).

Mao et al., "FinalMLP: An Enhanced Two-Stream MLP Model for CTR Prediction", AAAI 2023,
https://arxiv.org/abs/2304.00902.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.linear import Linear
from mlpzoo.layers.mlp import check_features


class BilinearFusion(nn.Module):
    """``b + w1.o1 + w2.o2 + sum_j o1_j^T W3_j o2_j`` over ``num_heads`` chunks of both outputs.

    Splitting both stream outputs into k heads cuts the bilinear term's parameters from
    ``d1 * d2`` to ``d1 * d2 / k``; ``num_heads`` must divide both widths.
    """

    def __init__(self, dim1: int, dim2: int, num_heads: int = 1, output_dim: int = 1):
        super().__init__()
        if num_heads < 1 or dim1 % num_heads or dim2 % num_heads:
            common = [k for k in range(1, min(dim1, dim2) + 1) if dim1 % k == 0 and dim2 % k == 0]
            raise ConfigError(
                f"num_heads={num_heads} must divide both stream widths ({dim1} and {dim2}); "
                f"use one of {', '.join(map(str, common[:8]))}{'...' if len(common) > 8 else ''}"
            )
        self.num_heads, self.dim1, self.dim2 = num_heads, dim1, dim2
        self.linear1 = Linear(dim1, output_dim)
        self.linear2 = Linear(dim2, output_dim, bias=False)
        self.bilinear = nn.Parameter(torch.empty(num_heads, dim1 // num_heads, dim2 // num_heads, output_dim))
        nn.init.xavier_normal_(self.bilinear.view(num_heads * (dim1 // num_heads), -1))
        nn.init.xavier_normal_(self.linear1.weight)
        nn.init.zeros_(self.linear1.bias)
        nn.init.xavier_normal_(self.linear2.weight)

    def forward(self, o1: torch.Tensor, o2: torch.Tensor) -> torch.Tensor:
        check_features(o1, self.dim1, "BilinearFusion", self.bilinear, name="o1")
        check_features(o2, self.dim2, "BilinearFusion", self.bilinear, name="o2")
        if o1.dim() != 2 or o2.shape[0] != o1.shape[0]:
            raise DataError(
                f"BilinearFusion expects o1 (batch, {self.dim1}) and o2 (batch, {self.dim2}) with the same batch, "
                f"got {tuple(o1.shape)} and {tuple(o2.shape)}; pass both streams' outputs for the same rows"
            )
        if self.training and torch.is_grad_enabled():
            bilinear = _HeadBilinear.apply(o1, o2, self.bilinear, self.linear1.weight, self.linear1.bias)
            return self.linear2(o2) + bilinear
        # Evaluation and export: the same sum as one einsum (no custom autograd function to trace). The
        # linear terms are row-wise dot products: a (batch, d) @ (d, 1) product picks its kernel by the
        # batch size, so a row's score would change (at float rounding) with the rows batched beside it.
        heads1 = o1.view(o1.shape[0], self.num_heads, -1)
        heads2 = o2.view(o2.shape[0], self.num_heads, -1)
        bilinear = torch.einsum("bhi,hijo,bhj->bo", heads1, self.bilinear, heads2)
        return _row_linear(o1, self.linear1) + _row_linear(o2, self.linear2) + bilinear


def _row_linear(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``linear(x)`` as one dot product per row and output, the same rounding whatever the batch."""
    out = (x.unsqueeze(-2) * linear.weight).sum(-1)
    return out if linear.bias is None else out + linear.bias


class _HeadBilinear(torch.autograd.Function):
    """``w1.o1 + b1 + sum_h o1_h^T W_h o2_h``: one matrix product per head on column slices of ``o1``.

    Each head multiplies its slice of ``o1`` by ``[W_h | w1_h^T]``, its bilinear block with its part of
    ``linear1``'s weight beside it, so the linear term comes out of the same product and ``o1``'s
    gradient is written once, per head, into its columns (no copies of ``o1``, no outer product for
    ``linear1``'s input gradient). The einsum it replaces (``bhi,hijo,bhj->bo``) ran as batched
    one-row products plus permuted copies of the 4096 x 400 stream output: 14 ms forward + backward
    on one thread for FinalMLP's Frappe shapes, against about 5 ms here. Saved: the inputs, the
    weights and the per-head products (batch x (d2 + 1) x out each). Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, o1, o2, weight, linear_weight, linear_bias):
        heads, d1, d2, out_dim = weight.shape
        rows, width = o1.shape[0], d2 * out_dim
        result = o1.new_zeros(rows, out_dim) if linear_bias is None else linear_bias.expand(rows, out_dim).clone()
        weights, products = [], []
        for h in range(heads):
            joint = torch.cat([weight[h].reshape(d1, width), linear_weight[:, h * d1 : (h + 1) * d1].t()], dim=1)
            product = torch.mm(o1[:, h * d1 : (h + 1) * d1], joint)
            result += (product[:, :width].view(rows, d2, out_dim) * o2[:, h * d2 : (h + 1) * d2, None]).sum(1)
            result += product[:, width:]
            weights.append(joint)
            products.append(product)
        ctx.has_bias = linear_bias is not None
        ctx.save_for_backward(o1, o2, weight, *weights, *products)
        return result

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        o1, o2, weight, *saved = ctx.saved_tensors
        heads, d1, d2, out_dim = weight.shape
        weights, products = saved[:heads], saved[heads:]
        rows, width = o1.shape[0], d2 * out_dim
        need_o1, need_o2, need_weight, need_linear_weight, need_bias = ctx.needs_input_grad
        grad_o1 = torch.empty_like(o1) if need_o1 else None
        grad_weight = weight.new_empty(weight.shape) if need_weight else None
        grad_linear = weight.new_empty(out_dim, heads * d1) if need_linear_weight else None
        grad_o2 = []
        for h in range(heads):
            # d(result)/d(product_h): o2_h (x) grad for the bilinear columns, grad for the linear ones.
            bilinear_part = (o2[:, h * d2 : (h + 1) * d2, None] * grad[:, None, :]).reshape(rows, width)
            grad_product = torch.cat([bilinear_part, grad], dim=1)
            if need_o1:
                torch.mm(grad_product, weights[h].t(), out=grad_o1[:, h * d1 : (h + 1) * d1])
            if need_weight or need_linear_weight:
                grad_joint = o1[:, h * d1 : (h + 1) * d1].t() @ grad_product
                if need_weight:
                    grad_weight[h] = grad_joint[:, :width].view(d1, d2, out_dim)
                if need_linear_weight:
                    grad_linear[:, h * d1 : (h + 1) * d1] = grad_joint[:, width:].t()
            if need_o2:
                grad_o2.append((products[h][:, :width].view(rows, d2, out_dim) * grad[:, None, :]).sum(-1))
        grad_bias = grad.sum(0) if need_bias and ctx.has_bias else None
        return grad_o1, torch.cat(grad_o2, dim=1) if need_o2 else None, grad_weight, grad_linear, grad_bias
