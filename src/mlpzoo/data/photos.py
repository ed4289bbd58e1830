"""Real photographs made into the imaging claims' data: rendered dual exposures and graded distortions.

The source photographs are CIFAR-10's (:func:`mlpzoo.data.images.load_cifar10`): 60,000 real
photographs, 32 x 32 sRGB JPEGs, one scene each, so that splits by source photograph have thousands of
sources. (scikit-image bundles only about six colour photographs, too few to hold out by source, and
no Debian package ships a photo collection; CIFAR-10 is in the data directory.)

- :func:`render_dual_exposures` (data set ``dual-exposures``, for EMLP): each photograph is linearised
  (the inverse sRGB transfer curve) and treated as the scene's reflectance under the neutral light its
  camera balanced for; a known illuminant along the Planckian locus (CIE xy from Kim et al.'s cubic
  fit, 2,500-8,000 K uniform in mired, with a small off-locus tint) colours it; a long and a short
  exposure (ratio 4, as a staggered HDR sensor takes them) are clipped at the sensor's white level,
  given shot and read noise and quantised to 10 bits. A 32 x 32 image stands in for the low-resolution
  statistics grid a camera ISP runs white balance on.
- :func:`distort_photographs` (data set ``distorted-photos``, for DN-PIQA): each photograph at graded
  levels of four distortions (Gaussian blur, Gaussian noise, JPEG, exposure). A version's latent
  quality is its SSIM to the pristine photograph; the observed score imitates scene-relative subjective
  scores (PIQ23's are per scene): per source photograph an arbitrary offset and scale, plus rater noise.

Everything is deterministic from ``seed``. :class:`SourceBatchedData` batches whole source photographs,
so a learning-to-rank loss sees pairs of versions of one scene.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from mlpzoo.errors import ConfigError, DataError

DISTORTIONS = ("pristine", "blur", "noise", "jpeg", "exposure")
# Level 1..3 of each distortion on a 32 x 32 photograph: blur sigma (pixels), noise sd (of 255),
# JPEG quality, exposure change (stops, the sign drawn per version).
DISTORTION_LEVELS = {
    "blur": (0.6, 1.0, 1.6),
    "noise": (6.0, 14.0, 26.0),
    "jpeg": (45, 22, 8),
    "exposure": (0.7, 1.4, 2.1),
}


# ------------------------------------------------------------------------------- checks of image input
def check_photographs(images, where: str) -> torch.Tensor:
    """Photographs must be uint8 RGB ``(N, 3, H, W)`` with values 0..255; anything else is one line."""
    if not isinstance(images, (torch.Tensor, np.ndarray)):
        raise DataError(f"{where}: photographs must be a uint8 tensor (N, 3, H, W), got {type(images).__name__}")
    images = torch.as_tensor(images)
    if images.dtype != torch.uint8:
        raise DataError(
            f"{where}: photographs must be uint8 with values 0..255, got {images.dtype}; "
            "convert float images in [0, 1] with (x * 255).round().to(torch.uint8)"
        )
    if images.dim() != 4 or images.shape[1] != 3:
        raise DataError(f"{where}: photographs must be RGB (N, 3, H, W), got shape {tuple(images.shape)}")
    return images


def check_linear_images(images, where: str) -> torch.Tensor:
    """Linear raw images must be floating ``(N, 3, H, W)`` with values in [0, 1] (the white level is 1)."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise DataError(
            f"{where}: linear images must be a float tensor with values in [0, 1], got {kind}; "
            "divide 8-bit data by 255 and linearise it (mlpzoo.data.photos.srgb_to_linear)"
        )
    if images.dim() != 4 or images.shape[1] != 3:
        raise DataError(f"{where}: linear images must be RGB (N, 3, H, W), got shape {tuple(images.shape)}")
    low, high = float(images.min()), float(images.max())
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 1:
        raise DataError(
            f"{where}: linear images must have values in [0, 1] (1 = the sensor's white level), found "
            f"{low:.3g}..{high:.3g}; clip them or divide by the white level"
        )
    return images


# ------------------------------------------------------------------------------- source photographs
def source_photographs(count: int, data_dir=None) -> torch.Tensor:
    """``count`` CIFAR-10 training photographs, uint8 ``(count, 3, 32, 32)``, the same ones for every seed.

    The first ``ceil(count / 10)`` of each class (by file name), interleaved across classes so that any
    prefix is class-balanced.
    """
    from mlpzoo.data.images import load_cifar10

    if count < 2:
        raise ConfigError(f"photographs count={count}; use at least 2")
    per_class = -(-count // 10)
    images, labels = load_cifar10("train", data_dir, limit_per_class=per_class)
    rank_in_class = np.zeros(len(labels), dtype=np.int64)
    for c in range(10):
        members = np.flatnonzero(labels.numpy() == c)
        rank_in_class[members] = np.arange(len(members))
    order = np.lexsort((labels.numpy(), rank_in_class))
    return images[torch.as_tensor(order[:count])]


def srgb_to_linear(images: torch.Tensor) -> torch.Tensor:
    """The inverse sRGB transfer curve (IEC 61966-2-1): uint8 photographs -> float32 linear values in [0, 1]."""
    x = check_photographs(images, "srgb_to_linear").float() / 255.0
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer curve: linear values in [0, 1] -> uint8 (for showing rendered frames)."""
    x = linear.clamp(0, 1)
    x = torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return (x * 255).round().to(torch.uint8)


# ------------------------------------------------------------------------------- illuminants
# Kim et al. (2002), "Design of advanced color temperature control system for HDTV applications":
# cubic fits of the Planckian locus in CIE 1931 xy, 1,667-25,000 K.
_X_LOW = (-0.2661239e9, -0.2343589e6, 0.8776956e3, 0.179910)  # 1,667-4,000 K, in 1/T^3, 1/T^2, 1/T, 1
_X_HIGH = (-3.0258469e9, 2.1070379e6, 0.2226347e3, 0.240390)  # 4,000-25,000 K
_Y_FITS = (  # (upper kelvin, coefficients of x^3, x^2, x, 1)
    (2222.0, (-1.1063814, -1.34811020, 2.18555832, -0.20219683)),
    (4000.0, (-0.9549476, -1.37418593, 2.09137015, -0.16748867)),
    (25000.0, (3.0817580, -5.87338670, 3.75112997, -0.37001483)),
)
_XYZ_TO_LINEAR_SRGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])


def planckian_xy(kelvin) -> tuple[np.ndarray, np.ndarray]:
    """CIE 1931 xy of a black body at ``kelvin`` (1,667-25,000 K), from Kim et al.'s cubic fits."""
    t = np.asarray(kelvin, dtype=float)
    if np.any(t < 1667) or np.any(t > 25000):
        raise ConfigError(f"colour temperature {t.min():.0f}..{t.max():.0f} K is outside 1,667-25,000 K")
    powers = np.stack([1e0 / t**3, 1 / t**2, 1 / t, np.ones_like(t)], -1)
    x = np.where(t < 4000, powers @ np.array(_X_LOW), powers @ np.array(_X_HIGH))
    cubic = np.stack([x**3, x**2, x, np.ones_like(x)], -1)
    y = np.select([t < upper for upper, _ in _Y_FITS], [cubic @ np.array(c) for _, c in _Y_FITS])
    return x, y


def planckian_rgb(kelvin) -> np.ndarray:
    """Linear-sRGB colour of a black body at ``kelvin``, as unit vectors ``(..., 3)``."""
    x, y = planckian_xy(kelvin)
    xyz = np.stack([x / y, np.ones_like(x), (1 - x - y) / y], -1)
    rgb = xyz @ _XYZ_TO_LINEAR_SRGB.T
    return rgb / np.linalg.norm(rgb, axis=-1, keepdims=True)


def sample_illuminants(
    count: int, rng: np.random.Generator, kelvin: tuple[float, float] = (2500.0, 8000.0), tint: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` illuminants (unit linear-sRGB vectors) and their colour temperatures.

    Temperatures are uniform in mired (1e6 / K) over ``kelvin``; each channel is then scaled by
    ``exp(N(0, tint))``, the scatter of real lights (daylight, LEDs, fluorescents) around the locus.
    """
    mired = rng.uniform(1e6 / kelvin[1], 1e6 / kelvin[0], size=count)
    temperature = 1e6 / mired
    rgb = planckian_rgb(temperature) * np.exp(rng.normal(0.0, tint, size=(count, 3)))
    return rgb / np.linalg.norm(rgb, axis=-1, keepdims=True), temperature


# ------------------------------------------------------------------------------- dual exposures (EMLP)
@dataclass
class DualExposures:
    """Rendered raw frames of ``N`` scenes: ``long`` and ``short`` float32 ``(N, 3, H, W)`` in [0, 1]
    (1 = white level), the ground-truth ``illuminant`` ``(N, 3)`` (unit vectors), its ``kelvin`` and the
    index of each scene's ``source`` photograph."""

    long: torch.Tensor
    short: torch.Tensor
    illuminant: torch.Tensor
    kelvin: torch.Tensor
    source: torch.Tensor
    exposure_ratio: float

    def __len__(self) -> int:
        return len(self.long)

    def select(self, index) -> "DualExposures":
        index = torch.as_tensor(index)
        return DualExposures(
            self.long[index],
            self.short[index],
            self.illuminant[index],
            self.kelvin[index],
            self.source[index],
            self.exposure_ratio,
        )

    def frames(self) -> torch.Tensor:
        """``(N, 2, 3, H, W)``: the long and the short frame of each scene, the input of an EMLP."""
        return torch.stack([self.long, self.short], 1)


def _sensor(signal: np.ndarray, rng: np.random.Generator, full_well: float, read_noise: float, bits: int):
    """Shot noise (Gaussian, variance signal / full_well), read noise, clipping at the white level, ADC."""
    noisy = signal + rng.normal(size=signal.shape) * np.sqrt(signal / full_well + read_noise**2)
    levels = 2**bits - 1
    return np.round(np.clip(noisy, 0.0, 1.0) * levels) / levels


def render_dual_exposures(
    photographs: torch.Tensor,
    seed: int = 0,
    exposure_ratio: float = 4.0,
    highlight: tuple[float, float] = (0.6, 2.0),
    kelvin: tuple[float, float] = (2500.0, 8000.0),
    tint: float = 0.03,
    full_well: float = 2000.0,
    read_noise: float = 0.002,
    bits: int = 10,
) -> DualExposures:
    """Render a long and a short exposure of each photograph under a random known illuminant.

    Args:
        photographs: uint8 ``(N, 3, H, W)`` sRGB photographs (real scenes).
        seed: fixes illuminants, exposures and noise.
        exposure_ratio: long / short exposure time.
        highlight: the long frame's exposure puts the 95th percentile of each scene's brightest channel at a
            level drawn uniformly from this range (x the white level), so a varying share of it clips.
        kelvin, tint: the illuminant distribution (:func:`sample_illuminants`).
        full_well: the signal (electrons) at the white level, which sets the shot noise.
        read_noise: read-noise sd as a fraction of the white level. bits: ADC depth.
    """
    if exposure_ratio <= 1:
        raise ConfigError(f"exposure_ratio={exposure_ratio}; the long exposure must be longer (ratio > 1)")
    rng = np.random.default_rng(seed)
    linear = srgb_to_linear(photographs).numpy().astype(np.float64)
    illuminant, temperature = sample_illuminants(len(linear), rng, kelvin, tint)
    raw = linear * (illuminant / illuminant.max(1, keepdims=True))[:, :, None, None]
    brightest = np.quantile(raw.max(1).reshape(len(raw), -1), 0.95, axis=1)
    gain = rng.uniform(*highlight, size=len(raw)) / np.maximum(brightest, 1e-3)
    long_signal = raw * gain[:, None, None, None]
    long = _sensor(long_signal, rng, full_well, read_noise, bits)
    short = _sensor(long_signal / exposure_ratio, rng, full_well, read_noise, bits)
    return DualExposures(
        torch.as_tensor(long, dtype=torch.float32),
        torch.as_tensor(short, dtype=torch.float32),
        torch.as_tensor(illuminant, dtype=torch.float32),
        torch.as_tensor(temperature, dtype=torch.float32),
        torch.arange(len(raw)),
        float(exposure_ratio),
    )


def load_dual_exposures(data_dir=None, count: int = 1000, seed: int = 0, **render) -> DualExposures:
    """Dual exposures of the first ``count`` source photographs (:func:`source_photographs`)."""
    return render_dual_exposures(source_photographs(count, data_dir), seed=seed, **render)


# ------------------------------------------------------------------------------- graded distortions (DN-PIQA)
@dataclass
class DistortedPhotos:
    """Versions of source photographs: uint8 ``images`` ``(N, 3, H, W)``, the ``source`` photograph's index,
    the distortion ``kind`` (index into :data:`DISTORTIONS`) and ``level`` (0 = pristine), the latent
    ``quality`` (SSIM to the pristine photograph) and the observed, scene-relative ``score``."""

    images: torch.Tensor
    source: torch.Tensor
    kind: torch.Tensor
    level: torch.Tensor
    quality: torch.Tensor
    score: torch.Tensor
    rater_sd: float

    def __len__(self) -> int:
        return len(self.images)

    def select(self, index) -> "DistortedPhotos":
        index = torch.as_tensor(index)
        return DistortedPhotos(
            self.images[index],
            self.source[index],
            self.kind[index],
            self.level[index],
            self.quality[index],
            self.score[index],
            self.rater_sd,
        )


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(image, sigma=(0, sigma, sigma), mode="reflect")


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.moveaxis(image, 0, -1)).save(buffer, format="JPEG", quality=int(quality))
    return np.moveaxis(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")), -1, 0)


def distort(image: np.ndarray, kind: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 ``(3, H, W)`` photograph at ``level`` (1..3) of distortion ``kind`` (:data:`DISTORTIONS`)."""
    if kind == "pristine" or level == 0:
        return image.copy()
    if kind not in DISTORTION_LEVELS:
        raise ConfigError(f"unknown distortion {kind!r}; use one of {', '.join(DISTORTIONS)}")
    strength = DISTORTION_LEVELS[kind][level - 1]
    x = image.astype(np.float64)
    if kind == "blur":
        x = _gaussian_blur(x, strength)
    elif kind == "noise":
        x = x + rng.normal(0.0, strength, size=x.shape)
    elif kind == "jpeg":
        return _jpeg(image, strength)
    else:  # exposure: a gain of 2^(+-stops) in linear light, clipped
        linear = srgb_to_linear(torch.as_tensor(image[None])).numpy()[0]
        gain = 2.0 ** (strength * rng.choice((-1.0, 1.0)))
        return linear_to_srgb(torch.as_tensor(linear * gain)).numpy()
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def luminance(images: np.ndarray) -> np.ndarray:
    """BT.601 luma in [0, 1] of uint8 ``(N, 3, H, W)`` images: ``(N, H, W)``."""
    x = images.astype(np.float64) / 255.0
    return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Mean SSIM (Wang et al. 2004; Gaussian window, K1 0.01, K2 0.03) of luma ``(N, H, W)`` pairs in [0, 1]."""
    from scipy.ndimage import gaussian_filter

    def blur(x):
        return gaussian_filter(x, sigma=(0, sigma, sigma), mode="reflect")

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return index.reshape(len(a), -1).mean(1)


def distort_photographs(
    photographs: torch.Tensor,
    seed: int = 0,
    levels: int = 3,
    offset_sd: float = 10.0,
    scale_sd: float = 0.3,
    rater_sd: float = 3.0,
) -> DistortedPhotos:
    """Each photograph pristine and at ``levels`` levels of every distortion, with latent and observed scores.

    The observed score of a version of source ``s`` is ``a_s + b_s * 100 * SSIM + N(0, rater_sd)``, with
    ``a_s ~ N(0, offset_sd)`` and ``log b_s ~ N(0, scale_sd)``: scores order the versions of one scene
    consistently but are not comparable across scenes, as in PIQ23, where each scene is scaled on its own.
    """
    photographs = check_photographs(photographs, "distort_photographs").numpy()
    if not 1 <= levels <= 3:
        raise ConfigError(f"levels={levels}; use 1 to 3 distortion levels")
    rng = np.random.default_rng(seed)
    images, source, kind, level = [], [], [], []
    for s, photo in enumerate(photographs):
        for k, name in enumerate(DISTORTIONS):
            for lv in [0] if name == "pristine" else range(1, levels + 1):
                images.append(distort(photo, name, lv, rng))
                source.append(s)
                kind.append(k)
                level.append(lv)
    images = np.stack(images)
    source = np.asarray(source)
    quality = ssim(luminance(images), luminance(photographs[source]))
    score = scene_relative_scores(quality, source, rng, offset_sd, scale_sd, rater_sd)
    return DistortedPhotos(
        torch.as_tensor(images),
        torch.as_tensor(source),
        torch.as_tensor(np.asarray(kind)),
        torch.as_tensor(np.asarray(level)),
        torch.as_tensor(quality, dtype=torch.float32),
        torch.as_tensor(score, dtype=torch.float32),
        float(rater_sd),
    )


def scene_relative_scores(
    quality: np.ndarray,
    source: np.ndarray,
    rng: np.random.Generator,
    offset_sd: float = 10.0,
    scale_sd: float = 0.3,
    rater_sd: float = 3.0,
) -> np.ndarray:
    """Observed scores ``a_s + b_s * 100 * quality + N(0, rater_sd)`` with a per-source offset ``a_s ~ N(0,
    offset_sd)`` and scale ``log b_s ~ N(0, scale_sd)`` (``offset_sd = scale_sd = 0``: consistent scores)."""
    source = np.asarray(source)
    if min(offset_sd, scale_sd, rater_sd) < 0:
        raise ConfigError(f"score sds must be >= 0, got offset {offset_sd}, scale {scale_sd}, rater {rater_sd}")
    sources = int(source.max()) + 1
    offset = rng.normal(0.0, offset_sd, size=sources)[source]
    scale = np.exp(rng.normal(0.0, scale_sd, size=sources))[source]
    return offset + scale * 100.0 * np.asarray(quality) + rng.normal(0.0, rater_sd, size=len(source))


def load_distorted_photos(data_dir=None, count: int = 300, seed: int = 0, **distortion) -> DistortedPhotos:
    """Graded distortions of the first ``count`` source photographs (:func:`source_photographs`)."""
    return distort_photographs(source_photographs(count, data_dir), seed=seed, **distortion)


# ------------------------------------------------------------------------------- batches by source
@dataclass
class SourceBatchedData:
    """Features ``x``, labels and the ``group`` (source photograph) of each row, batched by whole groups.

    A batch holds every row of ``batch_size // rows-per-group`` groups (at least one), so a pairwise loss
    within a group sees all pairs of a scene's versions; ``group`` is part of each batch.
    """

    x: torch.Tensor
    label: torch.Tensor
    group: torch.Tensor

    def __post_init__(self) -> None:
        if not (len(self.x) == len(self.label) == len(self.group)):
            raise DataError(
                f"SourceBatchedData: x has {len(self.x)} rows, label {len(self.label)}, group {len(self.group)}; "
                "pass one label and one group per row"
            )
        self._groups = torch.unique(self.group)

    def __len__(self) -> int:
        return len(self.x)

    def _per_batch(self, batch_size: int) -> int:
        return max(1, batch_size * len(self._groups) // max(len(self), 1))

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self._groups) // self._per_batch(batch_size))

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0) -> Iterator[dict]:
        groups = self._groups
        if shuffle:
            groups = groups[
                torch.randperm(len(groups), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
            ]
        step = self._per_batch(batch_size)
        for start in range(0, len(groups), step):
            rows = torch.isin(self.group, groups[start : start + step]).nonzero().squeeze(1)
            yield {"x": self.x[rows], "label": self.label[rows], "group": self.group[rows]}
