"""Real photographs made into imaging data: linearisation, Planckian lights, dual-exposure rendering,
graded distortions with scene-relative scores, and batches of whole source scenes."""

import numpy as np
import pytest
import torch

from mlpzoo.data.photos import (
    DISTORTIONS,
    SourceBatchedData,
    distort,
    distort_photographs,
    linear_to_srgb,
    planckian_rgb,
    planckian_xy,
    render_dual_exposures,
    scene_relative_scores,
    srgb_to_linear,
)
from mlpzoo.errors import DataError


def _photos(n=4, size=16, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_srgb_round_trip_and_known_values():
    photos = _photos()
    assert torch.equal(linear_to_srgb(srgb_to_linear(photos)), photos)
    grey = torch.full((1, 3, 1, 1), 188, dtype=torch.uint8)
    assert float(srgb_to_linear(grey).mean()) == pytest.approx(0.5029, abs=1e-3)  # sRGB 188 is ~50 % linear


@pytest.mark.parametrize("bad", [torch.rand(2, 3, 4, 4), torch.zeros(2, 1, 4, 4, dtype=torch.uint8), [1, 2]])
def test_photographs_of_the_wrong_kind_get_one_line(bad):
    with pytest.raises(DataError) as error:
        srgb_to_linear(bad)
    assert "\n" not in str(error.value) and ("0..255" in str(error.value) or "(N, 3, H, W)" in str(error.value))


def test_planckian_locus_matches_known_points():
    x, y = planckian_xy([2856.0, 6504.0])  # illuminant A lies on the locus; D65's CCT point is just below it
    assert x[0] == pytest.approx(0.4476, abs=2e-3) and y[0] == pytest.approx(0.4074, abs=2e-3)
    assert x[1] == pytest.approx(0.3135, abs=2e-3) and y[1] == pytest.approx(0.3237, abs=3e-3)
    warm, cool = planckian_rgb([2500.0, 9000.0])
    assert warm[0] > warm[2] and cool[2] > cool[0]  # low temperature reddish, high bluish
    assert np.allclose(np.linalg.norm(planckian_rgb([3000.0, 5000.0]), axis=1), 1.0)


def test_dual_exposures_are_deterministic_clipped_and_dimmer_in_the_short_frame():
    photos = _photos(8)
    a, b = render_dual_exposures(photos, seed=3), render_dual_exposures(photos, seed=3)
    assert torch.equal(a.long, b.long) and torch.equal(a.illuminant, b.illuminant)
    assert not torch.equal(render_dual_exposures(photos, seed=4).long, a.long)
    assert a.long.dtype == torch.float32 and 0 <= float(a.long.min()) and float(a.long.max()) <= 1
    assert float(a.short.mean()) < float(a.long.mean()) / 2
    bright = render_dual_exposures(photos, seed=3, highlight=(3.0, 3.0))
    assert float((bright.long >= 1).float().mean()) > 0.04  # the 95th percentile far above white: clipping
    assert torch.allclose(a.illuminant.norm(dim=1), torch.ones(8))
    assert a.frames().shape == (8, 2, 3, 16, 16)


def test_distortions_lower_ssim_with_the_grade():
    photos = _photos(3, size=24)
    data = distort_photographs(photos, seed=0)
    assert len(data) == 3 * (1 + 3 * (len(DISTORTIONS) - 1))
    pristine = data.kind == 0
    assert torch.allclose(data.quality[pristine], torch.ones(int(pristine.sum())))
    for kind in range(1, len(DISTORTIONS)):
        for source in range(3):
            member = (data.kind == kind) & (data.source == source)
            quality = data.quality[member][data.level[member].argsort()]
            assert quality[0] >= quality[-1], (DISTORTIONS[kind], quality)
    assert distort(photos[0].numpy(), "jpeg", 3, np.random.default_rng(0)).dtype == np.uint8


def test_scene_relative_scores_keep_each_scenes_order():
    quality = np.tile(np.linspace(0.5, 1.0, 5), 4)
    source = np.repeat(np.arange(4), 5)
    scores = scene_relative_scores(quality, source, np.random.default_rng(0), offset_sd=30, scale_sd=0.5, rater_sd=0)
    for s in range(4):
        assert np.all(np.diff(scores[source == s]) > 0)
    spread = [scores[source == s].mean() for s in range(4)]
    assert np.std(spread) > 5  # the scenes sit on different scales
    consistent = scene_relative_scores(quality, source, np.random.default_rng(0), 0, 0, 0)
    assert np.allclose(consistent, 100 * quality)


def test_source_batches_hold_whole_scenes():
    group = torch.repeat_interleave(torch.arange(10), 4)
    data = SourceBatchedData(torch.randn(40, 3), torch.randn(40), group)
    batches = list(data.iter_batches(8, shuffle=True, seed=1, epoch=2))
    assert len(batches) == data.num_batches(8) == 5
    for batch in batches:
        counts = torch.bincount(batch["group"])
        assert set(counts[counts > 0].tolist()) == {4}
    assert sorted(torch.cat([b["group"] for b in batches]).tolist()) == sorted(group.tolist())
    with pytest.raises(DataError):
        SourceBatchedData(torch.randn(4, 3), torch.randn(3), torch.zeros(4))
