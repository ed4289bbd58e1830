"""Real scenes for the neural-field claims, built from photographs that scikit-image ships with its wheel.

- ``motorcycle-depth``: the Middlebury 2014 "Motorcycle" stereo pair with its ground-truth disparity
  (``skimage.data.stereo_motorcycle``: a quarter-size resize, 741 x 500), turned into a depth photo with
  the data set's published calibration scaled by 1/4 (focal 3979.911 px, principal point (1244.772,
  1019.507), doffs 124.343 px, baseline 193.001 mm; depth = baseline * f / (disparity + doffs)). The exact
  calibration of the resized sample is not published, so the metric scale is approximate; the shape is
  real. Pixels without a ground-truth disparity are NaN.
- ``photo-pan-video``: a short video volume ``(T, H, W, 3)`` made by moving a virtual camera over a real
  photograph (a pan along a smooth curve with a slow zoom, each frame an area-averaged crop). The pixels
  are real; the camera motion is synthetic.

:func:`gaussians_from_depth` turns a depth photo into 3-D Gaussians, one per valid pixel (a surfel each,
oriented by the depth map's tangent vectors): the stand-in for a trained 3DGS scene in the NeuralGS claim.
:func:`backproject` gives the 3-D points the Level-S2fM claim fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mlpzoo.errors import ConfigError, DataMissingError

# Middlebury 2014 Motorcycle calibration (calib.txt of the full-size pair); the sample is 1/4 of it.
_FOCAL, _CX, _CY, _DOFFS, _BASELINE_M = 3979.911, 1244.772, 1019.507, 124.343, 0.193001
_SAMPLE_SCALE = 0.25


def _skimage_data():
    try:
        import skimage.data
    except ImportError:
        raise DataMissingError(
            "the scene data sets read photographs shipped by scikit-image, which is not installed; "
            "pip install 'mlpzoo[fields]' (or scikit-image)"
        ) from None
    return skimage.data


@dataclass
class DepthPhoto:
    """A colour photograph with metric depth: ``image`` (H, W, 3) in [0, 1], ``depth`` (H, W) in metres
    (NaN where unknown), and pinhole intrinsics in pixels of this resolution."""

    image: np.ndarray
    depth: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]


def _area_resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-average resize of (H, W, C) with NaN-aware averaging (a cell with any NaN stays NaN)."""
    tensor = torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float64).permute(2, 0, 1).unsqueeze(0)
    out = torch.nn.functional.interpolate(tensor, size=(height, width), mode="area")
    return out[0].permute(1, 2, 0).numpy()


def load_motorcycle_depth(data_dir=None, scale: float = 0.25) -> DepthPhoto:
    """The Motorcycle depth photo at ``scale`` of scikit-image's 741 x 500 sample (``data_dir`` is unused:
    the photograph ships with scikit-image)."""
    if not 0 < scale <= 1:
        raise ConfigError(f"motorcycle-depth scale={scale!r}; pass a fraction in (0, 1]")
    left, _, disparity = _skimage_data().stereo_motorcycle()
    height, width = round(left.shape[0] * scale), round(left.shape[1] * scale)
    disparity = np.where(np.isfinite(disparity), disparity, np.nan).astype(np.float64)
    image = _area_resize(left.astype(np.float64) / 255.0, height, width).astype(np.float32)
    # Disparity is in pixels of the sample; convert to depth at the sample's resolution, then resize.
    focal = _FOCAL * _SAMPLE_SCALE
    depth = _BASELINE_M * focal / (disparity + _DOFFS * _SAMPLE_SCALE)
    depth = _area_resize(depth[..., None], height, width)[..., 0].astype(np.float32)
    s = _SAMPLE_SCALE * scale
    return DepthPhoto(image, depth, _FOCAL * s, _FOCAL * s, _CX * s, _CY * s)


def backproject(photo: DepthPhoto) -> np.ndarray:
    """Camera-frame 3-D points ``(H, W, 3)`` of every pixel (NaN where the depth is unknown)."""
    height, width = photo.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    z = photo.depth
    return np.stack([(cols - photo.cx) * z / photo.fx, (rows - photo.cy) * z / photo.fy, z], -1)


def _frame_to_quaternion(frames: np.ndarray) -> np.ndarray:
    """(w, x, y, z) quaternions of rotation matrices ``(N, 3, 3)`` whose columns are the local axes."""
    m = frames
    w = np.sqrt(np.clip(1 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2], 1e-12, None)) / 2
    x = np.sqrt(np.clip(1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2], 0, None)) / 2
    y = np.sqrt(np.clip(1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2], 0, None)) / 2
    z = np.sqrt(np.clip(1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2], 0, None)) / 2
    x = np.copysign(x, m[:, 2, 1] - m[:, 1, 2])
    y = np.copysign(y, m[:, 0, 2] - m[:, 2, 0])
    z = np.copysign(z, m[:, 1, 0] - m[:, 0, 1])
    q = np.stack([w, x, y, z], -1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def gaussians_from_depth(photo: DepthPhoto, max_stretch: float = 4.0) -> dict[str, np.ndarray]:
    """One 3-D Gaussian per pixel with a known depth and known neighbours: a flat surfel on the surface.

    Centre: the back-projected pixel. Axes: the depth map's tangent vectors ``dP/du`` and ``dP/dv``
    (orthonormalised) and the normal; scales: the lengths of those tangents (a pixel's footprint on the
    surface, at most ``max_stretch`` times the fronto-parallel footprint) and a tenth of the smaller one
    along the normal. Opacity: high on smooth surfaces, lower where the footprint stretches over a depth
    edge, ``0.99 * fronto / footprint`` (a heuristic standing in for 3DGS's optimised opacity). Colour: the
    pixel's RGB. Returns float32 arrays ``positions (N, 3)``, ``scales (N, 3)``, ``rotations (N, 4)``
    (w, x, y, z), ``opacities (N,)``, ``colours (N, 3)`` and ``pixels (N, 2)`` (row, column).
    """
    points = backproject(photo).astype(np.float64)
    du = np.gradient(points, axis=1)
    dv = np.gradient(points, axis=0)
    valid = np.isfinite(points).all(-1) & np.isfinite(du).all(-1) & np.isfinite(dv).all(-1)
    rows, cols = np.nonzero(valid)
    p, tu, tv = points[valid], du[valid], dv[valid]
    fronto = p[:, 2] / photo.fx  # the footprint of a pixel on a fronto-parallel surface
    len_u = np.minimum(np.linalg.norm(tu, axis=1), max_stretch * fronto)
    e1 = tu / np.linalg.norm(tu, axis=1, keepdims=True).clip(1e-12)
    normal = np.cross(tu, tv)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True).clip(1e-12)
    e2 = np.cross(normal, e1)
    len_v = np.minimum(np.abs((tv * e2).sum(1)), max_stretch * fronto).clip(0.25 * fronto)
    len_u = len_u.clip(0.25 * fronto)
    frames = np.stack([e1, e2, normal], axis=-1)  # columns: local x, y, z axes
    scales = np.stack([len_u, len_v, 0.1 * np.minimum(len_u, len_v)], -1) * 0.6
    footprint = np.sqrt(len_u * len_v)
    opacity = 0.99 * np.clip(fronto / footprint, 0.05, 1.0)
    return {
        "positions": p.astype(np.float32),
        "scales": scales.astype(np.float32),
        "rotations": _frame_to_quaternion(frames).astype(np.float32),
        "opacities": opacity.astype(np.float32),
        "colours": photo.image[valid].astype(np.float32),
        "pixels": np.stack([rows, cols], -1).astype(np.int64),
    }


def load_photo_video(
    data_dir=None, frames: int = 24, size: int = 64, photo: str = "coffee", window: float = 0.45
) -> np.ndarray:
    """A ``(frames, size, size, 3)`` float32 video in [0, 1]: a virtual camera pans over a real photograph.

    The crop window (``window`` of the photo's shorter side, shrinking by 20 % over the clip: a slow zoom in)
    moves along a quarter of a Lissajous curve; each frame is the area average of its crop.
    """
    if frames < 2 or size < 4:
        raise ConfigError(f"photo-pan-video frames={frames}, size={size}; pass frames >= 2 and size >= 4")
    data = _skimage_data()
    if not hasattr(data, photo):
        raise ConfigError(f"photo-pan-video photo={photo!r} is not a scikit-image sample; try 'coffee' or 'astronaut'")
    image = torch.as_tensor(np.asarray(getattr(data, photo)(), dtype=np.float32) / 255.0)
    if image.dim() == 2:
        image = image.unsqueeze(-1).expand(-1, -1, 3)
    image = image[..., :3].permute(2, 0, 1).unsqueeze(0)
    height, width = image.shape[-2:]
    video = []
    for t in np.linspace(0.0, 1.0, frames):
        side = window * min(height, width) * (1 - 0.2 * t)
        centre_y = height / 2 + (height - side) / 2 * 0.8 * np.sin(np.pi * t - np.pi / 2)
        centre_x = width / 2 + (width - side) / 2 * 0.8 * np.sin(0.5 * np.pi * t * 2 - np.pi / 4)
        top, left = int(round(centre_y - side / 2)), int(round(centre_x - side / 2))
        crop = image[..., top : top + int(round(side)), left : left + int(round(side))]
        video.append(torch.nn.functional.interpolate(crop, size=(size, size), mode="area")[0].permute(1, 2, 0))
    return torch.stack(video).numpy()
