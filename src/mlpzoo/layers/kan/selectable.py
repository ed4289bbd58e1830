"""S-KAN: a KAN layer that learns which basis family each input node uses, then prunes the rest.

Yang, Zhang, Luo, Lu & Shen, "Activation Space Selectable Kolmogorov-Arnold Networks",
arXiv:2408.08338 (2024). Every node holds a pool of candidate function spaces mixed with
learned weights (full training), keeps the best one (selection) and drops the others (pruning).

Here a node is an input ``i`` (all edges ``i -> o`` leaving it use the same family, each edge
with its own coefficients). With families ``f`` (each a basis ``B_{f,k}``, ``K_f`` functions),
softmax mixture weights ``w_{i,f}`` and coefficients ``c_{f,o,i,k}``:

    y_o = sum_i sum_f w_{i,f} sum_k c_{f,o,i,k} B_{f,k}(x_i).

:meth:`SelectableKANLinear.select` records ``argmax_f w_{i,f}`` per input; :meth:`prune` keeps only
that family's coefficients per input, with ``w_{i,f}`` folded into them, so the pruned layer
computes exactly the selected terms of the mixture (the other families' terms are dropped).

Families (``grid_size = G``, ``grid_range = (lo, hi)``, spacing ``h = (hi - lo) / G``):

- ``bspline``: cubic B-splines on the uniform grid over ``grid_range`` extended by three knots
  each side (``G + 3`` functions; zero outside the extended grid). Written here (Cox-de Boor)
  rather than imported, so this layer does not depend on the B-spline KAN's internals.
- ``chebyshev``: ``T_n(tanh x)``, ``n = 0..G`` (recurrence, so gradients stay finite).
- ``rbf``: Gaussians ``exp(-((x - c_k) / h)^2)`` at ``G + 1`` centres over ``grid_range``.
- ``wavelet``: Mexican hats ``psi((x - t_{i,k}) / s_{i,k})``, ``G + 1`` per input, with learned
  translations (initialised on the grid) and scales (initialised to ``h``).

Non-finite inputs are not checked: they give NaN or inf in the outputs of that row only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan.checks import check_range, check_sizes, check_tensor

FAMILIES = ("bspline", "chebyshev", "rbf", "wavelet")
SPLINE_ORDER = 3
_MEXICAN_HAT_NORM = 2.0 / (math.sqrt(3.0) * math.pi**0.25)


def bspline_basis(x: torch.Tensor, knots: torch.Tensor, order: int = SPLINE_ORDER) -> torch.Tensor:
    """B-spline basis of degree ``order`` on ``knots`` (Cox-de Boor): ``(...) -> (..., len(knots) - order - 1)``."""
    x = x.unsqueeze(-1)
    basis = ((x >= knots[:-1]) & (x < knots[1:])).to(x.dtype)
    for p in range(1, order + 1):
        left = (x - knots[: -(p + 1)]) / (knots[p:-1] - knots[: -(p + 1)])
        right = (knots[p + 1 :] - x) / (knots[p + 1 :] - knots[1:-p])
        basis = left * basis[..., :-1] + right * basis[..., 1:]
    return basis


def chebyshev_basis(x: torch.Tensor, degree: int) -> torch.Tensor:
    """``T_0 .. T_degree`` of ``tanh(x)``: ``(...) -> (..., degree + 1)``."""
    t = torch.tanh(x)
    values = [torch.ones_like(t), t]
    for _ in range(2, degree + 1):
        values.append(2 * t * values[-1] - values[-2])
    return torch.stack(values[: degree + 1], dim=-1)


def rbf_basis(x: torch.Tensor, centers: torch.Tensor, width: float) -> torch.Tensor:
    """Gaussians ``exp(-((x - c) / width)^2)``: ``(...) -> (..., len(centers))``."""
    return torch.exp(-((x.unsqueeze(-1) - centers) / width).square())


def mexican_hat_basis(x: torch.Tensor, translation: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mexican hats per input: x ``(..., n)``, translation/scale ``(n, K)`` -> ``(..., n, K)``."""
    u = (x.unsqueeze(-1) - translation) / scale
    u2 = u.square()
    return _MEXICAN_HAT_NORM * (1.0 - u2) * torch.exp(-0.5 * u2)


class SelectableKANLinear(nn.Module):
    """KAN layer whose input nodes each mix (then select) a basis family.

    Args:
        in_features, out_features: widths.
        bases: candidate families, a subset of ``FAMILIES`` (order kept; at least one).
        grid_size: grid intervals; sets every family's size (see the module docstring).
        grid_range: ``(low, high)`` the grids cover.

    Parameters before pruning: ``coef[f]`` ``(out, in, K_f)``, mixture logits ``logits``
    ``(in, families)`` (zero: a uniform mixture) and, for ``wavelet``, ``translation`` / ``scale``
    ``(in, K)``. After :meth:`prune`: ``coef[f]`` ``(out, n_f, K_f)`` for the ``n_f`` inputs that
    selected ``f`` (listed in buffer ``index_<f>``) and the wavelet rows of those inputs only.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bases: Sequence[str] = FAMILIES,
        grid_size: int = 5,
        grid_range: tuple[float, float] = (-2.0, 2.0),
    ):
        super().__init__()
        check_sizes("SelectableKANLinear", in_features=in_features, out_features=out_features, grid_size=grid_size)
        bases = tuple(bases)
        unknown = [b for b in bases if b not in FAMILIES]
        if not bases or unknown or len(set(bases)) != len(bases):
            raise ConfigError(
                f"SelectableKANLinear bases={bases} must be distinct names from {', '.join(FAMILIES)}; fix the list"
            )
        low, high = check_range("SelectableKANLinear", grid_range)
        self.in_features, self.out_features = in_features, out_features
        self.bases, self.grid_size, self.grid_range = bases, grid_size, (low, high)
        self.spacing = (high - low) / grid_size
        self.sizes = {
            "bspline": grid_size + SPLINE_ORDER,
            "chebyshev": grid_size + 1,
            "rbf": grid_size + 1,
            "wavelet": grid_size + 1,
        }
        self.coef = nn.ParameterDict()
        for f in bases:
            k = self.sizes[f]
            self.coef[f] = nn.Parameter(torch.randn(out_features, in_features, k) / math.sqrt(in_features * k))
        self.logits = nn.Parameter(torch.zeros(in_features, len(bases)))
        if "wavelet" in bases:
            self.translation = nn.Parameter(self.centers().repeat(in_features, 1))
            self.scale = nn.Parameter(torch.full((in_features, grid_size + 1), self.spacing))
        self.register_buffer("selected", torch.full((in_features,), -1, dtype=torch.long))
        self.pruned = False

    def knots(self, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
        """B-spline knots: the grid extended by ``SPLINE_ORDER`` knots each side."""
        steps = torch.arange(-SPLINE_ORDER, self.grid_size + SPLINE_ORDER + 1, dtype=torch.float64)
        return (self.grid_range[0] + self.spacing * steps).to(dtype=dtype, device=device)

    def centers(self, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
        """RBF centres (and the wavelets' starting translations): ``grid_size + 1`` grid points."""
        low, high = self.grid_range
        return torch.linspace(low, high, self.grid_size + 1, dtype=dtype, device=device)

    def family_bases(self, family: str, x: torch.Tensor) -> torch.Tensor:
        """``B_f`` of ``x`` ``(..., n)`` -> ``(..., n, K_f)`` (after pruning: the inputs that kept ``f``)."""
        if family == "bspline":
            return bspline_basis(x, self.knots(x.dtype, x.device))
        if family == "chebyshev":
            return chebyshev_basis(x, self.grid_size)
        if family == "rbf":
            return rbf_basis(x, self.centers(x.dtype, x.device), self.spacing)
        return mexican_hat_basis(x, self.translation, self.scale)

    def mixture_weights(self) -> torch.Tensor:
        """Softmax mixture weights ``(in, families)`` (before pruning)."""
        if self.pruned:
            raise ConfigError("SelectableKANLinear is pruned: mixture weights are folded into coef; read coef instead")
        return torch.softmax(self.logits, dim=-1)

    def family_term(self, family: str, x: torch.Tensor) -> torch.Tensor:
        """Before pruning: ``sum_i w_{i,f} sum_k c_{f,o,i,k} B_{f,k}(x_i)``, shape ``(..., out)``."""
        w = self.mixture_weights()[:, self.bases.index(family)]
        phi = self.family_bases(family, x) * w[:, None]
        return phi.flatten(-2) @ self.coef[family].flatten(1).T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "SelectableKANLinear", self.selected)
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ConfigError(
                f"SelectableKANLinear expects last dim {self.in_features}, got {x.shape[-1]}; "
                "match in_features to the input"
            )
        out = x.new_zeros(*x.shape[:-1], self.out_features)
        if not self.pruned:
            for family in self.bases:
                out = out + self.family_term(family, x)
            return out
        for family in self.bases:
            index = getattr(self, f"index_{family}")
            if index.numel() == 0:
                continue
            phi = self.family_bases(family, x[..., index])
            out = out + phi.flatten(-2) @ self.coef[family].flatten(1).T
        return out

    @torch.no_grad()
    def select(self) -> list[str]:
        """Record the heaviest family of every input node; returns their names in input order."""
        if not self.pruned:
            self.selected.copy_(self.logits.argmax(dim=-1))
        return [self.bases[int(j)] for j in self.selected]

    @torch.no_grad()
    def prune(self) -> SelectableKANLinear:
        """Keep only each input's selected family (weights folded into its coefficients).

        Calls :meth:`select` first if it has not run. Irreversible; returns ``self``.
        """
        if self.pruned:
            return self
        if int(self.selected.min()) < 0:
            self.select()
        weights = self.mixture_weights()
        coef = nn.ParameterDict()
        for j, family in enumerate(self.bases):
            index = torch.nonzero(self.selected == j).flatten()
            self.register_buffer(f"index_{family}", index)
            kept = self.coef[family][:, index] * weights[index, j][None, :, None]
            coef[family] = nn.Parameter(kept.contiguous())
            if family == "wavelet":
                self.translation = nn.Parameter(self.translation[index].clone())
                self.scale = nn.Parameter(self.scale[index].clone())
        self.coef = coef
        del self.logits
        self.pruned = True
        return self

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bases={self.bases}, "
            f"grid_size={self.grid_size}, grid_range={self.grid_range}, pruned={self.pruned}"
        )
