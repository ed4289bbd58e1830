"""The KAN paper's function-fitting suite: named closed-form targets on ``[-1, 1]^d``.

Liu et al., "KAN: Kolmogorov-Arnold Networks", 2024, arXiv:2404.19756, section 3.1 (toy
functions) and Table 2 (special functions); S-KAN (catalog id ``s-kan``) fits the same kind of
suite. Inputs are uniform on ``[-1, 1]^d``; targets are noise-free.

========  ===  =====================================================================
name      d    formula
========  ===  =====================================================================
f1        2    ``exp(sin(pi x1) + x2^2)``
f2        2    ``x1 * x2``
f3        4    ``exp(0.5 (sin(pi (x1^2 + x2^2)) + sin(pi (x3^2 + x4^2))))``
bessel    1    ``J0(20 x1)`` (``scipy.special.j0``; the KAN paper's Bessel example)
ellipkinc 2    ``F(x1 | m)``, the incomplete elliptic integral of the first kind,
               amplitude ``x1`` and parameter ``m = (x2 + 1) / 2`` in ``[0, 1]``
               (``scipy.special.ellipkinc``; a row of the KAN paper's Table 2)
========  ===  =====================================================================

:func:`sample_function` draws ``(x, y)`` tensors; :func:`load_function` gives seeded train /
valid / test :class:`~mlpzoo.data.tensors.ArrayData` (targets ``(N,)``, float32).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy import special

from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import DataError


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    dim: int
    formula: str
    fn: Callable[[np.ndarray], np.ndarray]  # (N, d) float64 -> (N,)


def _f1(x):
    return np.exp(np.sin(np.pi * x[:, 0]) + x[:, 1] ** 2)


def _f2(x):
    return x[:, 0] * x[:, 1]


def _f3(x):
    return np.exp(0.5 * (np.sin(np.pi * (x[:, 0] ** 2 + x[:, 1] ** 2)) + np.sin(np.pi * (x[:, 2] ** 2 + x[:, 3] ** 2))))


def _bessel(x):
    return special.j0(20.0 * x[:, 0])


def _ellipkinc(x):
    return special.ellipkinc(x[:, 0], (x[:, 1] + 1.0) / 2.0)


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("f1", 2, "exp(sin(pi x1) + x2^2)", _f1),
        FunctionSpec("f2", 2, "x1 * x2", _f2),
        FunctionSpec("f3", 4, "exp(0.5 (sin(pi (x1^2 + x2^2)) + sin(pi (x3^2 + x4^2))))", _f3),
        FunctionSpec("bessel", 1, "J0(20 x1)", _bessel),
        FunctionSpec("ellipkinc", 2, "ellipkinc(x1, (x2 + 1) / 2)", _ellipkinc),
    )
}


def function_spec(name: str) -> FunctionSpec:
    if name not in FUNCTIONS:
        raise DataError(f"unknown function {name!r}; use one of {', '.join(FUNCTIONS)}")
    return FUNCTIONS[name]


def evaluate_function(name: str, x: np.ndarray | torch.Tensor) -> np.ndarray:
    """The target of ``name`` at points ``x`` ``(N, d)`` (float64)."""
    spec = function_spec(name)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != spec.dim:
        raise DataError(
            f"function {name!r} takes points of shape (N, {spec.dim}), got {tuple(x.shape)}; pass {spec.dim} columns"
        )
    return spec.fn(x)


def sample_function(name: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points uniform on ``[-1, 1]^d`` (numpy generator seeded by ``seed``) and their targets, float32."""
    spec = function_spec(name)
    if n < 1:
        raise DataError(f"sample_function n={n} must be >= 1")
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, spec.dim))
    y = spec.fn(x)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def load_function(
    name: str, n_train: int = 1000, n_test: int = 1000, seed: int = 0, n_valid: int | None = None
) -> tuple[ArrayData, ArrayData, ArrayData]:
    """Train / valid / test sets of ``name``; ``n_valid`` defaults to ``n_test``.

    The three parts are one seeded draw split in order, so they are disjoint and the same
    ``seed`` always gives the same data.
    """
    n_valid = n_test if n_valid is None else n_valid
    for field, value, least in (("n_train", n_train, 1), ("n_valid", n_valid, 0), ("n_test", n_test, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise DataError(f"load_function {field}={value!r}; pass an integer >= {least}")
    x, y = sample_function(name, n_train + n_valid + n_test, seed)
    cut1, cut2 = n_train, n_train + n_valid
    return ArrayData(x[:cut1], y[:cut1]), ArrayData(x[cut1:cut2], y[cut1:cut2]), ArrayData(x[cut2:], y[cut2:])
