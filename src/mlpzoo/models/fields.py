"""Neural fields: coordinate networks that store a scene, a video or a surface in their weights.

- NeuralGS: Tang et al., "NeuralGS: Bridging Neural Fields and 3D Gaussian Splatting for Compact 3D
  Representations", 2025, arXiv:2503.23162. The attributes of a 3DGS scene's Gaussians (scale, rotation,
  opacity, colour) are regressed from their positions by tiny MLPs, one per cluster of Gaussians
  (:class:`ClusteredNeuralField`), fitted with each Gaussian's importance as its weight.
- Im4D: Lin et al., "Im4D: High-Fidelity and Real-Time Novel View Synthesis for Dynamic Scenes", SIGGRAPH
  Asia 2023, arXiv:2310.08585. Its dynamic geometry is "a 4D density function composed of spatiotemporal
  feature planes and a small MLP network" (abstract): :class:`PlaneField`, against the pure coordinate MLP
  of NeRF (:class:`CoordinateMLP`).
- Level-S2fM: Xiao et al., "Level-S2fM: Structure from Motion on Neural Level Set of Implicit Surfaces",
  CVPR 2023, arXiv:2211.12018. The scene is a coordinate-MLP signed distance field (geometric
  initialisation, eikonal regulariser: :class:`SignedDistanceField`) whose zero level set the 3-D points
  must lie on; points off the level set are outliers.

Models take coordinates (``batch["x"]`` or a tensor) and know nothing of the data behind them.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.fields_nd import BatchedMLP, FeaturePlanes, FourierFeatures, geometric_init_
from mlpzoo.layers.mlp import MLP, check_features, check_width
from mlpzoo.registry import register_model

GAUSSIAN_ATTRIBUTES = 11  # 3 log-scales, 4 quaternion, 1 opacity logit, 3 colours


def _coordinates(batch) -> torch.Tensor:
    return batch["x"] if isinstance(batch, dict) else batch


class ClusteredNeuralField(nn.Module):
    """NeuralGS's cluster-wise fields: ``num_clusters`` tiny MLPs, MLP ``k`` mapping the positional encoding of
    a position in cluster ``k`` (normalised to the cluster's box) to that Gaussian's attributes.

    Input ``(num_clusters, batch, in_features)``, output ``(num_clusters, batch, out_features)``; all clusters run
    in one batched matrix product per layer. With ``num_clusters=1`` it is a single MLP over the whole scene.

    Args:
        num_clusters: K, the number of tiny MLPs.
        in_features: coordinate width (3).
        out_features: attributes per Gaussian (11: log-scales, quaternion, opacity logit, colour).
        hidden_units: hidden widths of every tiny MLP.
        num_frequencies: octaves of the positional encoding.
    """

    def __init__(
        self,
        num_clusters: int = 16,
        in_features: int = 3,
        out_features: int = GAUSSIAN_ATTRIBUTES,
        hidden_units: Sequence[int] = (32, 32),
        num_frequencies: int = 6,
    ):
        super().__init__()
        self.encoding = FourierFeatures(in_features, num_frequencies)
        self.fields = BatchedMLP(num_clusters, self.encoding.out_features, hidden_units, out_features)
        self.num_clusters, self.out_features = num_clusters, out_features

    def forward(self, batch) -> torch.Tensor:
        return self.fields(self.encoding(_coordinates(batch)))


class PlaneField(nn.Module):
    """Im4D's geometry field: factorised feature planes over the coordinates (one plane per axis pair, fused by
    a product) decoded by a small MLP.

    Args:
        resolution: grid size per coordinate axis, e.g. ``(64, 64, 24)`` for (x, y, t) video.
        channels: feature width of every plane.
        hidden_units: the decoder MLP's hidden widths.
        out_features: outputs per point (3 for colour, 1 for density).
    """

    def __init__(
        self,
        resolution: Sequence[int] = (64, 64, 24),
        channels: int = 16,
        hidden_units: Sequence[int] = (64,),
        out_features: int = 3,
    ):
        super().__init__()
        self.planes = FeaturePlanes(resolution, channels)
        self.decoder = MLP(channels, hidden_units, out_features)

    def forward(self, batch) -> torch.Tensor:
        return self.decoder(self.planes(_coordinates(batch)))


class CoordinateMLP(nn.Module):
    """NeRF's pure coordinate MLP: positional encoding, then ``depth`` ReLU layers of ``width``, then a linear
    output.

    Args:
        in_features: coordinate width. out_features: outputs per point.
        width, depth: the hidden layers. num_frequencies: positional-encoding octaves.
    """

    def __init__(
        self, in_features: int = 3, out_features: int = 3, width: int = 128, depth: int = 4, num_frequencies: int = 8
    ):
        super().__init__()
        check_width("CoordinateMLP", "depth", depth)
        self.encoding = FourierFeatures(in_features, num_frequencies)
        self.mlp = MLP(self.encoding.out_features, [width] * depth, out_features)

    def forward(self, batch) -> torch.Tensor:
        return self.mlp(self.encoding(_coordinates(batch)))


class SignedDistanceField(nn.Module):
    """A signed distance MLP ``R^3 -> R``: ``depth`` Softplus (beta 100) layers of ``width``, geometrically
    initialised as the distance to a sphere of ``radius`` (IGR / SAL, as Level-S2fM's implicit surface).

    Args:
        width, depth: hidden layers. radius: the initial sphere, in the (normalised) input's units.
        beta: Softplus sharpness (100 in IGR).
    """

    def __init__(self, width: int = 128, depth: int = 4, radius: float = 0.5, beta: float = 100.0):
        super().__init__()
        check_width("SignedDistanceField", "width", width)
        check_width("SignedDistanceField", "depth", depth)
        if not radius > 0:
            raise ConfigError(f"SignedDistanceField radius={radius!r}; pass a positive radius")
        widths = [3] + [width] * depth + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.activation = nn.Softplus(beta=beta)
        geometric_init_(list(self.layers), radius)

    def forward(self, batch) -> torch.Tensor:
        x = _coordinates(batch)
        check_features(x, 3, "SignedDistanceField", self.layers[0].weight, name="points")
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x).squeeze(-1)

    def gradient(self, points: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """``grad_x f(x)`` at ``points`` (N, 3); with ``create_graph`` it can be trained through (eikonal loss)."""
        with torch.enable_grad():
            points = points.detach().requires_grad_(True) if not points.requires_grad else points
            value = self(points)
            (grad,) = torch.autograd.grad(value.sum(), points, create_graph=create_graph)
        return grad


def _points(shape: tuple[int, ...], low: float = -1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return low + (1 - low) * torch.rand(*shape, generator=generator)


def _clustered_example():
    return {"num_clusters": 2, "hidden_units": (8,), "num_frequencies": 2}, (_points((2, 5, 3)),)


def _planes_example():
    return {"resolution": (4, 5, 3), "channels": 4, "hidden_units": (8,)}, (_points((3, 3)),)


def _coordinate_example():
    return {"width": 8, "depth": 2, "num_frequencies": 2}, (_points((3, 3)),)


def _sdf_example():
    return {"width": 8, "depth": 2}, (_points((3, 3)),)


@register_model("neuralgs_field", family="fields", paper="neuralgs", example=_clustered_example)
def neuralgs_field(**kwargs) -> ClusteredNeuralField:
    return ClusteredNeuralField(**kwargs)


@register_model("im4d_planes", family="fields", paper="im4d", example=_planes_example)
def im4d_planes(**kwargs) -> PlaneField:
    return PlaneField(**kwargs)


@register_model("coordinate_mlp", family="fields", paper="im4d", example=_coordinate_example)
def coordinate_mlp(**kwargs) -> CoordinateMLP:
    return CoordinateMLP(**kwargs)


@register_model("level_s2fm_sdf", family="fields", paper="level-s2fm", example=_sdf_example)
def level_s2fm_sdf(**kwargs) -> SignedDistanceField:
    return SignedDistanceField(**kwargs)
