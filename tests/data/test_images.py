"""Image readers (CIFAR-10 zip and pickles, idx, Fashion-MNIST, digits) and ImageData batching."""

import gzip
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from mlpzoo.data.augment import Compose, HorizontalFlip, Mixup, RandomCrop
from mlpzoo.data.images import (
    CIFAR10_CLASSES,
    ImageData,
    load_cifar10,
    load_cifar10_batches,
    load_digits_images,
    load_fashion_mnist,
    load_idx,
)
from mlpzoo.errors import DataError, DataMissingError


@pytest.fixture(autouse=True)
def isolated_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MLPZOO_CACHE", str(tmp_path / "cache"))


def _jpeg(rgb) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), rgb, np.uint8)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _write_zip(root, entries: dict[str, bytes]):
    folder = root / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar10_jpeg.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


# ---------------------------------------------------------------------------- CIFAR-10 zip
def test_real_cifar10_subset_matches_pillow(need_data):
    root = need_data("cifar10")
    images, labels = load_cifar10("test", root, limit_per_class=5)
    assert images.shape == (50, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == [c for c in range(10) for _ in range(5)]
    with zipfile.ZipFile(root / "cifar10" / "cifar10_jpeg.zip") as archive:
        first_truck = sorted(n for n in archive.namelist() if n.startswith("test/truck/") and n.endswith(".jpg"))[0]
        expected = (
            np.asarray(Image.open(io.BytesIO(archive.read(first_truck))).convert("RGB")).transpose(2, 0, 1).copy()
        )
    assert torch.equal(images[45], torch.from_numpy(expected))
    again = load_cifar10("test", root, limit_per_class=5)  # from the cache
    assert torch.equal(again[0], images) and torch.equal(again[1], labels)


def test_labels_follow_class_folders_and_skip_corrupt(tmp_path):
    entries = {
        "train/": b"",
        "train/cat/": b"",
        "train/cat/a.jpg": _jpeg((200, 10, 10)),
        "train/airplane/b.jpg": _jpeg((10, 200, 10)),
        "train/truck/c.jpg": _jpeg((10, 10, 200)),
        "train/truck/empty.jpg": b"",
        "train/dog/corrupt.jpg": b"\xff\xd8\xff not a jpeg",
        "test/frog/d.jpg": _jpeg((50, 50, 50)),
    }
    _write_zip(tmp_path, entries)
    with pytest.warns(UserWarning, match="skipped 2 empty or corrupt"):
        images, labels = load_cifar10("train", tmp_path)
    assert labels.tolist() == [0, 3, 9]  # airplane, cat, truck; the dog image was corrupt
    # The dominant colour channel identifies each image, so a label cannot be off by one image.
    assert images.float().mean(dim=(2, 3)).argmax(1).tolist() == [1, 0, 2]
    test_images, test_labels = load_cifar10("test", tmp_path)
    assert test_labels.tolist() == [CIFAR10_CLASSES.index("frog")] and test_images.shape == (1, 3, 32, 32)


def test_changed_zip_is_decoded_again(tmp_path):
    path = _write_zip(tmp_path, {"train/cat/a.jpg": _jpeg((200, 0, 0))})
    assert load_cifar10("train", tmp_path)[1].tolist() == [3]
    path.unlink()
    _write_zip(tmp_path, {"train/cat/a.jpg": _jpeg((200, 0, 0)), "train/dog/b.jpg": _jpeg((0, 200, 0))})
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert load_cifar10("train", tmp_path)[1].tolist() == [3, 5]


def test_cifar10_bad_input(tmp_path):
    _write_zip(tmp_path, {"train/cats/a.jpg": _jpeg((1, 2, 3))})
    with pytest.raises(DataError, match="train/cats/ is not a CIFAR-10 class"):
        load_cifar10("train", tmp_path)
    with pytest.raises(DataError, match="split 'valid'"):
        load_cifar10("valid", tmp_path)
    with pytest.raises(DataMissingError, match="cifar10_jpeg.zip"):
        load_cifar10("train", tmp_path / "nowhere")


# ---------------------------------------------------------------------------- CIFAR-10 pickles
def test_cifar10_python_batches(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        written[name] = (data, labels)
        with open(tmp_path / name, "wb") as handle:
            pickle.dump({b"data": data, b"labels": labels}, handle)
    images, labels = load_cifar10_batches(tmp_path, "train")
    assert images.shape == (20, 3, 32, 32) and labels.dtype == torch.int64
    data, label = written["data_batch_2"]
    assert torch.equal(images[4:8], torch.from_numpy(data.reshape(4, 3, 32, 32))) and labels[4:8].tolist() == label
    (tmp_path / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10_batches(tmp_path, "test")
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(DataMissingError, match="data_batch_3"):
        load_cifar10_batches(tmp_path, "train")


# ---------------------------------------------------------------------------- idx
def _idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 7, 6), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    write = gzip.compress if compress else (lambda b: b)
    (tmp_path / "img").write_bytes(write(_idx_bytes(images)))
    (tmp_path / "lab").write_bytes(write(_idx_bytes(labels)))
    x, y = load_idx(tmp_path / "img", tmp_path / "lab")
    assert x.shape == (5, 1, 7, 6) and torch.equal(x[:, 0], torch.from_numpy(images))
    assert y.dtype == torch.int64 and y.tolist() == labels.tolist()


def test_idx_errors_name_the_file(tmp_path):
    images = np.zeros((4, 3, 3), np.uint8)
    good = _idx_bytes(images)
    (tmp_path / "lab").write_bytes(_idx_bytes(np.zeros(4, np.uint8)))
    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(DataError, match="short is truncated"):
        load_idx(tmp_path / "short", tmp_path / "lab")
    (tmp_path / "short.gz").write_bytes(gzip.compress(good)[:-12])
    with pytest.raises(DataError, match="short.gz is truncated"):
        load_idx(tmp_path / "short.gz", tmp_path / "lab")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(DataError, match="magic.*bad magic"):
        load_idx(tmp_path / "magic", tmp_path / "lab")
    (tmp_path / "img").write_bytes(good)
    (tmp_path / "lab3").write_bytes(_idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match="4 images but .*lab3 holds 3 labels"):
        load_idx(tmp_path / "img", tmp_path / "lab3")
    with pytest.raises(DataError, match="rank 1"):
        load_idx(tmp_path / "lab", tmp_path / "lab")


def test_fashion_mnist():
    try:
        images, labels = load_fashion_mnist("test")
    except DataMissingError:
        pytest.skip("dataset-fashion-mnist not installed")
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.bincount().tolist() == [1000] * 10


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(DataMissingError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", tmp_path)


def test_digits_images():
    images, labels = load_digits_images()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == torch.uint8 and int(images.max()) == 255
    assert labels.dtype == torch.int64 and set(labels.tolist()) == set(range(10))


# ---------------------------------------------------------------------------- ImageData
def test_image_data_normalises_and_batches_every_row():
    images, labels = load_digits_images()
    data = ImageData(images, labels)
    batches = list(data.iter_batches(500))
    x = torch.cat([b["x"] for b in batches])
    assert x.dtype == torch.float32 and x.shape == (1797, 1, 8, 8)
    assert torch.allclose(x.mean(), torch.tensor(0.0), atol=1e-4) and torch.allclose(
        x.std(), torch.tensor(1.0), atol=1e-3
    )
    assert torch.equal(torch.cat([b["label"] for b in batches]), labels) and data.num_batches(500) == len(batches) == 4
    shuffled = torch.cat([b["label"] for b in data.iter_batches(500, shuffle=True, seed=3, epoch=1)])
    assert sorted(shuffled.tolist()) == sorted(labels.tolist()) and not torch.equal(shuffled, labels)
    # Validation data with the training statistics.
    other = ImageData(images[:10], labels[:10], mean=data.mean, std=data.std)
    assert torch.allclose(next(other.iter_batches(10))["x"], x[:10])


def test_image_data_augments_training_batches_only():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(64) % 10
    data = ImageData(images, labels, augment=Compose([RandomCrop(2), HorizontalFlip(), Mixup(0.8, 10)]))
    plain = next(data.iter_batches(64))
    assert plain["label"].dtype == torch.int64 and torch.equal(plain["x"], data.to_float(images))
    first = next(data.iter_batches(16, shuffle=True, seed=0, epoch=1))
    again = next(data.iter_batches(16, shuffle=True, seed=0, epoch=1))
    other = next(data.iter_batches(16, shuffle=True, seed=0, epoch=2))
    assert first["label"].shape == (16, 10) and torch.allclose(first["label"].sum(1), torch.ones(16))
    assert torch.equal(first["x"], again["x"]) and not torch.equal(first["x"], other["x"])


def test_image_data_bad_input():
    with pytest.raises(DataError, match=r"\(N, C, H, W\)"):
        ImageData(torch.zeros(4, 8, 8, dtype=torch.uint8), torch.zeros(4))
    with pytest.raises(DataError, match="4 images but 3 labels"):
        ImageData(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(3))
    with pytest.raises(DataError, match="3 channels"):
        ImageData(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4), mean=[0.5], std=[0.2])
