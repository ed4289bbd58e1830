"""Kolmogorov-Arnold layers: drop-in replacements for nn.Linear with learnable activations."""

from mlpzoo.layers.kan.af_kan import AFKANLinear
from mlpzoo.layers.kan.bspline import BSplineKANLinear
from mlpzoo.layers.kan.rational import (
    GRKANLinear,
    GroupRational,
    atomic_group_rational,
    group_rational,
    naive_group_rational,
)
from mlpzoo.layers.kan.rbf import RBFKANLinear
from mlpzoo.layers.kan.relu_kan import ReLUKANLinear
from mlpzoo.layers.kan.selectable import SelectableKANLinear

__all__ = [
    "AFKANLinear",
    "BSplineKANLinear",
    "GRKANLinear",
    "GroupRational",
    "RBFKANLinear",
    "ReLUKANLinear",
    "SelectableKANLinear",
    "atomic_group_rational",
    "group_rational",
    "naive_group_rational",
]
