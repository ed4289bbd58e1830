"""Image data sets as uint8 tensors, and :class:`ImageData`, which batches them for the Trainer.

Readers:

- CIFAR-10 from the JPEG zip in the data directory (``cifar10/cifar10_jpeg.zip``, layout
  ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``), decoded once with Pillow into a cached
  ``.npy`` pair (cache folder ``$MLPZOO_CACHE``, default ``~/.cache/mlpzoo``);
- CIFAR-10 from the official python pickle batches (``data_batch_1..5``, ``test_batch``);
- idx files (MNIST / Fashion-MNIST format, optionally gzipped) and Fashion-MNIST from
  ``<data directory>/fashion-mnist`` or the Debian package ``dataset-fashion-mnist``;
- scikit-learn's 8x8 digits, for fast tests.

Every reader returns ``images`` uint8 ``(N, C, H, W)`` and ``labels`` int64 ``(N,)``.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import pickle
import time
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from mlpzoo.data.paths import data_dir as resolve_data_dir
from mlpzoo.data.paths import require_file
from mlpzoo.errors import DataError, DataMissingError

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "ImageData",
    "cache_dir",
    "channel_stats",
    "fashion_mnist_dir",
    "load_cifar10",
    "load_cifar10_batches",
    "load_digits_images",
    "load_fashion_mnist",
    "load_idx",
]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_SPLITS = ("train", "test")
_PARALLEL_MIN_IMAGES = 4000  # below this, starting worker processes costs more than it saves
_DECODE_WORKERS = 2
_log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]


def cache_dir() -> Path:
    """Where decoded arrays are kept: ``$MLPZOO_CACHE``, else ``~/.cache/mlpzoo``."""
    env = os.environ.get("MLPZOO_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mlpzoo"


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise DataError(f"split {split!r} is not one of {', '.join(_SPLITS)}")


# ---------------------------------------------------------------------------- CIFAR-10 (JPEG zip)
def _cifar_members(archive: zipfile.ZipFile, split: str, limit_per_class: int | None) -> tuple[list[str], np.ndarray]:
    """The split's JPEG names in (class, file name) order and their class indices."""
    by_class: dict[int, list[str]] = {}
    for name in archive.namelist():
        parts = name.split("/")
        if parts[0] != split or name.endswith("/"):
            continue
        if len(parts) != 3:
            raise DataError(f"cifar10 zip entry {name!r} is not {split}/<class>/<file>.jpg; the zip's layout is wrong")
        if parts[1] not in CIFAR10_CLASSES:
            raise DataError(
                f"cifar10 zip folder {split}/{parts[1]}/ is not a CIFAR-10 class; expected one of "
                f"{', '.join(CIFAR10_CLASSES)}"
            )
        by_class.setdefault(CIFAR10_CLASSES.index(parts[1]), []).append(name)
    if not by_class:
        raise DataError(f"cifar10 zip has no {split}/<class>/*.jpg entries; is it the CIFAR-10-images zip?")
    names, labels = [], []
    for label in sorted(by_class):
        members = sorted(by_class[label])[:limit_per_class]
        names += members
        labels += [label] * len(members)
    return names, np.asarray(labels, dtype=np.int64)


def _decode_chunk(zip_path: str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``names`` from the zip: ``(n, 32, 32, 3)`` uint8 and a mask of the good ones."""
    from PIL import Image, UnidentifiedImageError

    out = np.zeros((len(names), 32, 32, 3), dtype=np.uint8)
    good = np.zeros(len(names), dtype=bool)
    with zipfile.ZipFile(zip_path) as archive:
        for i, name in enumerate(names):
            try:
                with Image.open(io.BytesIO(archive.read(name))) as image:
                    pixels = np.asarray(image.convert("RGB"))
            except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
                continue  # empty or corrupt JPEG: skipped, counted by the caller
            if pixels.shape == (32, 32, 3):
                out[i] = pixels
                good[i] = True
    return out, good


def _decode_cifar_zip(zip_path: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if len(names) < _PARALLEL_MIN_IMAGES:
        return _decode_chunk(str(zip_path), names)
    chunks = np.array_split(np.arange(len(names)), _DECODE_WORKERS * 4)
    with ProcessPoolExecutor(_DECODE_WORKERS) as pool:
        parts = list(pool.map(_decode_chunk, [str(zip_path)] * len(chunks), [[names[i] for i in c] for c in chunks]))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _save_atomic(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array)
    os.replace(tmp, path)


def _load_cached(images_file: Path, labels_file: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not (images_file.is_file() and labels_file.is_file()):
        return None
    try:
        return np.load(images_file), np.load(labels_file)
    except (OSError, ValueError):
        return None  # an unreadable cache entry is decoded again and overwritten


def load_cifar10(split: str, data_dir=None, limit_per_class: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split`` ("train" or "test") from the JPEG zip: uint8 ``(N, 3, 32, 32)``, int64 ``(N,)``.

    Args:
        split: "train" (50,000 images) or "test" (10,000).
        data_dir: the data directory (default ``$MLPZOO_DATA``); the zip is ``cifar10/cifar10_jpeg.zip``.
        limit_per_class: keep only the first ``k`` files (by name) of each class, for fast tests
            and small experiments; ``None`` keeps all.

    Labels follow :data:`CIFAR10_CLASSES`. The decoded arrays are cached under :func:`cache_dir`
    with a key holding the zip's size and modification time, so a changed zip is decoded again.
    Empty or corrupt JPEGs are skipped with a warning that counts them.
    """
    _check_split(split)
    if limit_per_class is not None and limit_per_class < 1:
        raise DataError(f"limit_per_class={limit_per_class} must be a positive number of images per class, or None")
    zip_path = require_file("cifar10", "cifar10_jpeg.zip", data_dir)
    stat = zip_path.stat()
    limit = "all" if limit_per_class is None else f"{limit_per_class}pc"
    stem = f"cifar10-{split}-{limit}-{stat.st_size}-{stat.st_mtime_ns}"
    images_file, labels_file = cache_dir() / f"{stem}-images.npy", cache_dir() / f"{stem}-labels.npy"
    cached = _load_cached(images_file, labels_file)
    if cached is None and limit_per_class is not None:
        # A subset of an already decoded full split is a slice of it (images are in class order).
        full = _load_cached(
            *(
                cache_dir() / f"cifar10-{split}-all-{stat.st_size}-{stat.st_mtime_ns}-{part}.npy"
                for part in ("images", "labels")
            )
        )
        if full is not None:
            keep = np.concatenate([np.flatnonzero(full[1] == c)[:limit_per_class] for c in range(len(CIFAR10_CLASSES))])
            cached = full[0][keep], full[1][keep]
    if cached is not None:
        return torch.from_numpy(cached[0]), torch.from_numpy(cached[1])
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names, labels = _cifar_members(archive, split, limit_per_class)
    except zipfile.BadZipFile as err:
        raise DataError(f"{zip_path} is not a readable zip ({err}); download it again") from err
    start = time.perf_counter()
    pixels, good = _decode_cifar_zip(zip_path, names)
    decode_seconds = time.perf_counter() - start
    if not good.all():
        warnings.warn(
            f"cifar10 {split}: skipped {int((~good).sum())} empty or corrupt JPEG(s) of {len(names)} in {zip_path}",
            stacklevel=2,
        )
    images = np.ascontiguousarray(pixels[good].transpose(0, 3, 1, 2))
    labels = labels[good]
    _save_atomic(labels_file, labels)
    _save_atomic(images_file, images)  # written last: its presence marks a complete entry
    _log.info("decoded %d cifar10 %s images in %.1f s; cached in %s", len(labels), split, decode_seconds, images_file)
    return torch.from_numpy(images), torch.from_numpy(labels)


# ---------------------------------------------------------------------------- CIFAR-10 (pickles)
# The official batches are Python pickles of a dict of bytes, lists and one uint8 array; anything
# else a pickle asks for would be code to run, so only the numpy array's constructors are allowed.
_CIFAR_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, which a CIFAR-10 batch never holds (refused, nothing ran)"
            )
        return super().find_class(module, name)


def load_cifar10_batches(directory, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 from the official python batches in ``directory`` (``data_batch_1..5``, ``test_batch``)."""
    _check_split(split)
    folder = Path(directory)
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for name in files:
        path = folder / name
        if not path.is_file():
            raise DataMissingError(
                f"{name} not found in {folder}; extract cifar-10-python.tar.gz from "
                "https://www.cs.toronto.edu/~kriz/cifar.html into that folder"
            )
        try:
            with open(path, "rb") as handle:
                batch = _CifarUnpickler(handle, encoding="bytes").load()
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            label = np.asarray(batch[b"labels"], dtype=np.int64)
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"{path} is not a CIFAR-10 python batch ({type(err).__name__}: {err}); download it again"
            ) from err
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(label) != len(data):
            raise DataError(f"{path}: expected data (N, 3072) and N labels, got {data.shape} and {len(label)}")
        if label.size and (label.min() < 0 or label.max() > 9):
            raise DataError(f"{path}: labels must be 0..9, found {label.min()}..{label.max()}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(label)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


# ---------------------------------------------------------------------------- idx / Fashion-MNIST
def _read_idx(path: Path) -> np.ndarray:
    """One idx file (unsigned-byte data, gzipped or not) as an array of its declared shape."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataMissingError(f"idx file {path} not found") from None
    except (OSError, EOFError) as err:
        raise DataError(f"idx file {path} is truncated or not gzip ({err}); download it again") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"idx file {path} has a bad magic number {raw[:4].hex()}; expected 0x0000 then type and rank")
    if raw[2] != 0x08:
        raise DataError(f"idx file {path} holds data type 0x{raw[2]:02x}; only unsigned bytes (0x08) are supported")
    rank = raw[3]
    header = 4 + 4 * rank
    if rank == 0 or len(raw) < header:
        raise DataError(
            f"idx file {path} is truncated: its header declares rank {rank} but the file has {len(raw)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=rank, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(
            f"idx file {path} is truncated or padded: shape {shape} needs {expected} data bytes, found "
            f"{len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_idx(images_path, labels_path) -> tuple[torch.Tensor, torch.Tensor]:
    """An idx image file ``(N, H, W)`` and label file ``(N,)``: uint8 ``(N, 1, H, W)``, int64 ``(N,)``."""
    images_path, labels_path = Path(images_path), Path(labels_path)
    images, labels = _read_idx(images_path), _read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"idx file {images_path} has rank {images.ndim}; image files have rank 3 (N, H, W)")
    if labels.ndim != 1:
        raise DataError(f"idx file {labels_path} has rank {labels.ndim}; label files have rank 1 (N,)")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; pass the "
            "matching pair of files (same split)"
        )
    return torch.from_numpy(images[:, None].copy()), torch.from_numpy(labels.astype(np.int64))


def fashion_mnist_dir(data_dir=None) -> Path:
    """The folder holding Fashion-MNIST's idx files: ``<data directory>/fashion-mnist`` when it exists
    (the data directory is ``data_dir``, else ``$MLPZOO_DATA``, else the user cache), else
    ``$MLPZOO_FASHION_MNIST``, else the Debian package's ``/usr/share/datasets/fashion-mnist``."""
    folder = resolve_data_dir(data_dir) / "fashion-mnist"
    if folder.is_dir():
        return folder
    return Path(os.environ.get("MLPZOO_FASHION_MNIST", "").strip() or FASHION_MNIST_DIR)


def load_fashion_mnist(split: str, directory=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST ``split``: uint8 ``(N, 1, 28, 28)`` (60,000 train, 10,000 test), int64 labels.

    ``directory`` is the folder of the idx files; by default :func:`fashion_mnist_dir`.
    """
    _check_split(split)
    folder = Path(directory) if directory else fashion_mnist_dir()
    prefix = "train" if split == "train" else "t10k"
    images_path, labels_path = folder / f"{prefix}-images-idx3-ubyte.gz", folder / f"{prefix}-labels-idx1-ubyte.gz"
    for path in (images_path, labels_path):
        if not path.is_file():
            raise DataMissingError(
                f"{path.name} not found in {folder}; run `apt-get install dataset-fashion-mnist` "
                "or set MLPZOO_FASHION_MNIST to a folder holding the idx .gz files"
            )
    return load_idx(images_path, labels_path)


# ---------------------------------------------------------------------------- digits
def load_digits_images() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits as uint8 ``(N, 1, 8, 8)`` (0..16 scaled to 0..255) and int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return torch.from_numpy(pixels[:, None]), torch.from_numpy(digits.target.astype(np.int64))


# ---------------------------------------------------------------------------- batching
def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of uint8 ``images`` on the 0..1 scale."""
    if images.ndim != 4:
        raise DataError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    x = images.to(torch.float64).div_(255.0)
    return x.mean(dim=(0, 2, 3)).float(), x.std(dim=(0, 2, 3)).clamp_min(1e-6).float()


Augment = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


class ImageData:
    """uint8 images and labels, batched like :class:`mlpzoo.data.tensors.ArrayData`.

    Each batch is ``{"x": float32 (B, C, H, W), "label": (B,) int64 or (B, K) soft targets}``:
    the images are scaled to 0..1 and normalised per channel with ``mean`` and ``std`` (default:
    this data's own statistics; pass the training set's for validation and test data). The
    optional ``augment`` (see :mod:`mlpzoo.data.augment`) runs on training batches only, that is
    when ``iter_batches(shuffle=True)``, with a generator seeded from ``(seed, epoch)`` so that a
    resumed run sees the same augmented batches.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean=None, std=None, augment: Augment | None = None):
        if images.ndim != 4:
            raise DataError(f"ImageData: images must be (N, C, H, W), got shape {tuple(images.shape)}")
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"ImageData: {images.shape[0]} images but {labels.shape[0]} labels; pass matching rows")
        self.images, self.labels, self.augment = images, labels, augment
        if mean is None or std is None:
            stats = channel_stats(images)
            mean = stats[0] if mean is None else mean
            std = stats[1] if std is None else std
        self.mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        self.std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if self.mean.numel() != images.shape[1] or self.std.numel() != images.shape[1]:
            raise DataError(
                f"ImageData: mean/std have {self.mean.numel()}/{self.std.numel()} values for {images.shape[1]} channels"
            )
        # Folding /255 and the normalisation into one scale and shift: x * scale + shift.
        self._scale = (1.0 / (255.0 * self.std)).reshape(1, -1, 1, 1)
        self._shift = (-self.mean / self.std).reshape(1, -1, 1, 1)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self) else 0

    def select(self, index: torch.Tensor | slice) -> "ImageData":
        return ImageData(self.images[index], self.labels[index], self.mean, self.std, self.augment)

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def to_float(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> normalised float32."""
        return torch.addcmul(self._shift, images.to(torch.float32), self._scale)

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0) -> Iterator[Batch]:
        n = len(self)
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(n, generator=generator) if shuffle else None
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size] if order is not None else slice(start, start + batch_size)
            x, label = self.to_float(self.images[index]), self.labels[index]
            if shuffle and self.augment is not None:
                x, label = self.augment(x, label, generator)
            yield {"x": x, "label": label}
