"""Shared test fixtures: the real-data guard and an offline default."""

import os
from pathlib import Path

import pytest

# Tests never reach the network: a missing data file skips (or fails) instead of downloading.
os.environ.setdefault("MLPZOO_OFFLINE", "1")

from mlpzoo.data.paths import data_available, data_dir  # noqa: E402


def require_dataset(name: str) -> Path:
    """The data directory if data set ``name`` is in it; else skip (or fail when required).

    ``fashion-mnist`` is looked for where :func:`mlpzoo.data.images.fashion_mnist_dir` says (the data
    directory, ``$MLPZOO_FASHION_MNIST`` or the Debian package); the folder holding it is returned.
    """
    if name == "fashion-mnist":
        return _require_fashion_mnist()
    if data_available(name):
        return data_dir()
    if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
        pytest.fail(f"data set {name!r} missing from {data_dir()} while MLPZOO_REQUIRE_DATA=1")
    pytest.skip(f"data set {name!r} not in {data_dir()}; set MLPZOO_DATA")


def _require_fashion_mnist() -> Path:
    from mlpzoo.data.images import fashion_mnist_dir

    folder = fashion_mnist_dir()
    files = [
        f"{part}-{kind}-idx{rank}-ubyte.gz"
        for part in ("train", "t10k")
        for kind, rank in (("images", 3), ("labels", 1))
    ]
    if all((folder / f).is_file() for f in files):
        return folder
    if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
        pytest.fail(f"Fashion-MNIST missing from {folder} while MLPZOO_REQUIRE_DATA=1")
    pytest.skip(f"Fashion-MNIST not in {folder}; apt-get install dataset-fashion-mnist or set MLPZOO_FASHION_MNIST")


@pytest.fixture
def need_data():
    """Use as ``root = need_data("frappe")`` in tests that read a real data set."""
    return require_dataset


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs torch on one thread: tiny models run fastest so, and test processes share the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
