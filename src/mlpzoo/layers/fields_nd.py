"""Neural fields over coordinates: positional encoding, factorised feature planes, batched tiny MLPs,
geometric initialisation of signed distance MLPs, and a differentiable Gaussian splat renderer.

- :class:`FourierFeatures`: NeRF's positional encoding ``[x, sin(2^k pi x), cos(2^k pi x)]`` (Mildenhall et
  al., ECCV 2020), the input of every coordinate MLP here.
- :class:`FeaturePlanes`: K-Planes / HexPlane factorisation (Fridovich-Keil et al., CVPR 2023; Cao and
  Johnson, CVPR 2023) of a D-dimensional feature field into one learnable 2-D plane per pair of axes,
  bilinearly sampled and fused by a Hadamard product; Im4D's space-time geometry is such a field.
- :class:`BatchedMLP`: many independent small MLPs evaluated as one ``torch.baddbmm`` per layer (NeuralGS
  fits one tiny MLP per cluster of Gaussians; a Python loop over clusters would dominate on CPU).
- :func:`geometric_init_`: SAL's initialisation (Atzmon and Lipman, CVPR 2020) that starts a ReLU/Softplus
  MLP as the signed distance of a sphere, the starting point of IGR-style SDF fitting (Level-S2fM).
- :func:`render_gaussians`: 3-D Gaussian splatting (Kerbl et al., SIGGRAPH 2023) reduced to its core:
  project each Gaussian to a 2-D Gaussian, evaluate it on a small pixel window, and alpha-composite front to
  back. Pure torch, so it is differentiable and needs no compiled rasteriser.

Pure torch: no data, no tasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.mlp import check_features, check_width


class FourierFeatures(nn.Module):
    """``x -> [x, sin(2^k pi x), cos(2^k pi x)]`` for ``k < num_frequencies``; output width
    ``in_features * (2 * num_frequencies + include_input)``.

    Args:
        in_features: coordinate width (3 for points, 3 for (x, y, t) video, 4 for space-time).
        num_frequencies: octaves L (NeRF uses 10 for positions).
        include_input: keep the raw coordinates as well.
    """

    def __init__(self, in_features: int, num_frequencies: int, include_input: bool = True):
        super().__init__()
        check_width("FourierFeatures", "in_features", in_features)
        if isinstance(num_frequencies, bool) or not isinstance(num_frequencies, int) or num_frequencies < 0:
            raise ConfigError(f"FourierFeatures num_frequencies={num_frequencies!r}; pass an integer >= 0")
        self.in_features, self.num_frequencies, self.include_input = in_features, num_frequencies, include_input
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(num_frequencies), persistent=False)
        self.out_features = in_features * (2 * num_frequencies + int(include_input))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, self.in_features, "FourierFeatures", name="coordinates")
        angles = (x.unsqueeze(-1) * self.frequencies).flatten(-2)
        parts = [x] if self.include_input else []
        return torch.cat(parts + [torch.sin(angles), torch.cos(angles)], dim=-1)


class FeaturePlanes(nn.Module):
    """A D-dimensional feature field factorised into ``D choose 2`` learnable planes (K-Planes).

    A point ``x in [-1, 1]^D`` reads, from the plane of each axis pair ``(i, j)``, the bilinear interpolation
    of its ``channels`` features at ``(x_i, x_j)``; the planes' features are multiplied elementwise. Planes
    start at 1 plus small noise so the product starts near 1 (K-Planes' initialisation).

    Args:
        resolution: grid size per axis, e.g. ``(64, 64, 16)`` for (x, y, t).
        channels: feature width.
        init_scale: half-width of the uniform noise around 1 (K-Planes: 0.1 to 0.5).
    """

    def __init__(self, resolution: Sequence[int], channels: int, init_scale: float = 0.1):
        super().__init__()
        if len(resolution) < 2:
            raise ConfigError(f"FeaturePlanes resolution={tuple(resolution)!r}; pass one size per axis, at least two")
        for size in resolution:
            check_width("FeaturePlanes", "resolution entry", size)
        check_width("FeaturePlanes", "channels", channels)
        self.resolution, self.channels = tuple(resolution), channels
        self.pairs = list(combinations(range(len(resolution)), 2))
        self.planes = nn.ParameterList(
            nn.Parameter(1.0 + init_scale * (2 * torch.rand(1, channels, resolution[j], resolution[i]) - 1))
            for i, j in self.pairs
        )

    @property
    def in_features(self) -> int:
        return len(self.resolution)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, self.in_features, "FeaturePlanes", self.planes[0], name="coordinates")
        points = x.reshape(1, -1, 1, self.in_features)
        features = None
        for (i, j), plane in zip(self.pairs, self.planes):
            # grid_sample reads (x, y) = (column, row): axis i runs along the plane's width.
            sampled = nn.functional.grid_sample(
                plane, points[..., [i, j]], mode="bilinear", padding_mode="border", align_corners=True
            )
            sampled = sampled[0, :, :, 0].t()  # (points, channels)
            features = sampled if features is None else features * sampled
        return features.reshape(*x.shape[:-1], self.channels)


class BatchedMLP(nn.Module):
    """``num_networks`` independent MLPs of one shape, applied to ``(num_networks, batch, in_features)``.

    Each layer is one ``torch.baddbmm``; network ``k`` only ever sees row ``k`` of the input. Weights start
    like ``nn.Linear`` (uniform in ``+-1/sqrt(fan_in)``).

    Args:
        num_networks: K, the number of MLPs.
        in_features, hidden_units, out_features: the shape of every MLP.
        activation: ``relu`` or ``softplus`` or ``silu`` between layers.
    """

    _ACTIVATIONS = {"relu": nn.functional.relu, "silu": nn.functional.silu, "softplus": nn.functional.softplus}

    def __init__(
        self,
        num_networks: int,
        in_features: int,
        hidden_units: Sequence[int],
        out_features: int,
        activation: str = "relu",
    ):
        super().__init__()
        for name, value in (
            ("num_networks", num_networks),
            ("in_features", in_features),
            ("out_features", out_features),
        ):
            check_width("BatchedMLP", name, value)
        for units in hidden_units:
            check_width("BatchedMLP", "hidden_units entry", units)
        if activation not in self._ACTIVATIONS:
            raise ConfigError(f"BatchedMLP activation={activation!r}; choose one of {', '.join(self._ACTIVATIONS)}")
        self.num_networks, self.in_features, self.out_features = num_networks, in_features, out_features
        self.activation = self._ACTIVATIONS[activation]
        widths = [in_features, *hidden_units, out_features]
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = 1 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(num_networks, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_networks, 1, fan_out).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, self.in_features, "BatchedMLP", self.weights[0])
        if x.dim() != 3 or x.shape[0] != self.num_networks:
            raise DataError(
                f"BatchedMLP expects (num_networks={self.num_networks}, batch, {self.in_features}) inputs, got "
                f"{tuple(x.shape)}; group the rows by network first"
            )
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(bias, x, weight)
            if index < last:
                x = self.activation(x)
        return x


def geometric_init_(layers: Sequence[nn.Linear], radius: float = 1.0) -> None:
    """SAL's geometric initialisation: the MLP ``layers`` (ReLU or Softplus between them) starts close to
    ``|x| - radius``, the signed distance of a sphere (Atzmon and Lipman 2020, Sec. 4)."""
    if not layers:
        raise ConfigError("geometric_init_ needs at least one linear layer")
    with torch.no_grad():
        for layer in layers[:-1]:
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2) / math.sqrt(layer.out_features))
            nn.init.zeros_(layer.bias)
        last = layers[-1]
        nn.init.normal_(last.weight, math.sqrt(math.pi) / math.sqrt(last.in_features), 1e-4)
        nn.init.constant_(last.bias, -radius)


# ------------------------------------------------------------------------------------ Gaussian splatting
@dataclass(frozen=True)
class PinholeCamera:
    """A pinhole camera: intrinsics in pixels and the world-to-camera rotation ``R`` and translation ``t``
    (``x_cam = R x + t``, the camera looks along +z, image rows grow with +y)."""

    fx: float
    fy: float
    cx: float
    cy: float
    height: int
    width: int
    R: torch.Tensor
    t: torch.Tensor


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` of quaternions ``(..., 4)`` in (w, x, y, z) order (normalised first)."""
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(rows, -1).reshape(*q.shape[:-1], 3, 3)


def render_gaussians(
    means: torch.Tensor,
    scales: torch.Tensor,
    rotations: torch.Tensor,
    opacities: torch.Tensor,
    colours: torch.Tensor,
    camera: PinholeCamera,
    radius: int = 2,
    background: float = 0.0,
    return_weights: bool = False,
):
    """Alpha-composite 3-D Gaussians into an image ``(H, W, C)`` (and, with ``return_weights``, each Gaussian's
    total blending weight over the image, NeuralGS's importance score for one view).

    Gaussian ``i`` has centre ``means[i]``, covariance ``R_i diag(scales[i])^2 R_i^T`` with ``R_i`` from the
    quaternion ``rotations[i]``, opacity in (0, 1) and colour. Its projection is the EWA-splatting 2-D
    Gaussian (with 3DGS's 0.3-pixel low-pass), evaluated on the ``(2 radius + 1)^2`` pixels around its centre;
    per pixel the Gaussians are composited front to back by depth: ``C = sum_i c_i a_i prod_{j<i} (1 - a_j)``.
    """
    n = means.shape[0]
    for name, value, width in (("means", means, 3), ("scales", scales, 3), ("rotations", rotations, 4)):
        if value.shape != (n, width):
            raise DataError(f"render_gaussians {name} must be ({n}, {width}), got {tuple(value.shape)}")
    if opacities.shape != (n,) or colours.dim() != 2 or colours.shape[0] != n:
        raise DataError(
            f"render_gaussians needs opacities ({n},) and colours ({n}, C); got {tuple(opacities.shape)} and "
            f"{tuple(colours.shape)}"
        )
    R, t = camera.R.to(means), camera.t.to(means)
    cam = means @ R.T + t
    x, y, z = cam.unbind(-1)
    z = z.clamp_min(1e-6)
    u, v = camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy
    rotation = quaternion_to_matrix(rotations)
    cov_cam = R @ (rotation * scales.unsqueeze(-2) ** 2) @ rotation.transpose(-1, -2) @ R.T
    zeros = torch.zeros_like(z)
    jacobian = torch.stack(
        [camera.fx / z, zeros, -camera.fx * x / z**2, zeros, camera.fy / z, -camera.fy * y / z**2], -1
    ).reshape(n, 2, 3)
    cov = jacobian @ cov_cam @ jacobian.transpose(-1, -2) + 0.3 * torch.eye(2, dtype=means.dtype)
    a, b, c = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    det = (a * c - b * b).clamp_min(1e-12)
    # The pixel window around each projected centre; pixel (row r, column q) has its centre at (q, r).
    offsets = torch.arange(-radius, radius + 1)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    px = torch.round(u).detach().long().unsqueeze(1) + dx.reshape(1, -1)
    py = torch.round(v).detach().long().unsqueeze(1) + dy.reshape(1, -1)
    du, dv = px - u.unsqueeze(1), py - v.unsqueeze(1)
    power = -0.5 * (c.unsqueeze(1) * du**2 - 2 * b.unsqueeze(1) * du * dv + a.unsqueeze(1) * dv**2) / det.unsqueeze(1)
    alpha = (opacities.unsqueeze(1) * torch.exp(power.clamp(max=0.0))).clamp(max=0.99)
    keep = (px >= 0) & (px < camera.width) & (py >= 0) & (py < camera.height) & (alpha > 1 / 255) & (cam[:, 2:] > 0.01)
    gaussian = torch.arange(n).unsqueeze(1).expand_as(px)[keep]
    pixel, alpha = (py * camera.width + px)[keep], alpha[keep]
    # Sort the entries by (pixel, depth) and composite each pixel's run: transmittance is the exclusive
    # cumulative product of (1 - alpha) within the run, done as a cumulative sum of logs in float64.
    depth_rank = torch.empty(n, dtype=torch.long)
    depth_rank[torch.argsort(z.detach())] = torch.arange(n)
    order = torch.argsort(pixel * n + depth_rank[gaussian])
    gaussian, pixel, alpha = gaussian[order], pixel[order], alpha[order]
    log_transmit = torch.log1p(-alpha.double())
    inclusive = torch.cumsum(log_transmit, 0)
    exclusive = inclusive - log_transmit
    starts = torch.ones_like(pixel, dtype=torch.bool)
    starts[1:] = pixel[1:] != pixel[:-1]
    run = torch.cumsum(starts.long(), 0) - 1
    transmittance = torch.exp(exclusive - exclusive[starts][run]).to(means.dtype)
    weight = alpha * transmittance
    pixels = camera.height * camera.width
    image = torch.zeros(pixels, colours.shape[1], dtype=means.dtype).index_add(
        0, pixel, weight.unsqueeze(1) * colours[gaussian]
    )
    coverage = torch.zeros(pixels, dtype=means.dtype).index_add(0, pixel, weight)
    image = (image + (1 - coverage).unsqueeze(1) * background).reshape(camera.height, camera.width, -1)
    if return_weights:
        return image, torch.zeros(n, dtype=means.dtype).index_add(0, gaussian, weight.detach())
    return image
