"""The scene data sets built from scikit-image's sample photographs."""

import os

import numpy as np
import pytest

from mlpzoo.data import load_dataset
from mlpzoo.errors import ConfigError


@pytest.fixture
def skimage_data():
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
            pytest.fail("scikit-image missing while MLPZOO_REQUIRE_DATA=1; pip install 'mlpzoo[fields]'")
        pytest.skip("scikit-image not installed; pip install 'mlpzoo[fields]'")


def test_motorcycle_depth_is_metric_and_partly_unknown(skimage_data):
    from mlpzoo.data.scenes import backproject, gaussians_from_depth

    photo = load_dataset("motorcycle-depth", scale=0.1)
    assert photo.shape == (50, 74) and photo.image.min() >= 0 and photo.image.max() <= 1
    known = np.isfinite(photo.depth)
    assert 0.3 < known.mean() < 1.0 and 1.5 < np.nanmin(photo.depth) < np.nanmax(photo.depth) < 8.0
    assert np.isfinite(backproject(photo)[known]).all()
    gaussians = gaussians_from_depth(photo)
    n = len(gaussians["positions"])
    assert n > 500 and gaussians["rotations"].shape == (n, 4)
    assert np.allclose(np.linalg.norm(gaussians["rotations"], axis=1), 1, atol=1e-5)
    assert (gaussians["opacities"] > 0).all() and (gaussians["opacities"] < 1).all() and (gaussians["scales"] > 0).all()


def test_photo_pan_video_moves(skimage_data):
    video = load_dataset("photo-pan-video", frames=6, size=16)
    assert video.shape == (6, 16, 16, 3) and video.dtype == np.float32
    assert np.abs(video[1:] - video[:-1]).mean() > 0.01  # the camera moves between frames


def test_bad_scene_arguments_are_named(skimage_data):
    with pytest.raises(ConfigError, match="scale"):
        load_dataset("motorcycle-depth", scale=0)
    with pytest.raises(ConfigError, match="photo="):
        load_dataset("photo-pan-video", photo="no_such_photo")
