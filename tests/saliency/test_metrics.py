"""Metrics and post-processing on hand-made maps with known scores."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.saliency import metrics
from minigrad.saliency.postprocess import bilinear_resize, gaussian_blur, normalize


def square_mask(size=10, top=2, left=3, side=4):
    mask = np.zeros((1, size, size), dtype=bool)
    mask[0, top:top + side, left:left + side] = True
    return mask


def test_pointing_game_hits_misses_and_tolerance():
    mask = square_mask()
    maps = np.zeros((3, 10, 10))
    maps[0, 3, 4] = 1          # inside
    maps[1, 9, 9] = 1          # far away
    maps[2, 2, 8] = 1          # two pixels right of the square (its columns are 3..6)
    maps[2, 2, 8] = 1
    masks = np.repeat(mask, 3, axis=0)
    np.testing.assert_array_equal(metrics.pointing_game(maps, masks, tolerance=0),
                                  [True, False, False])
    np.testing.assert_array_equal(metrics.pointing_game(maps, masks, tolerance=2),
                                  [True, False, True])


def test_a_constant_map_points_nowhere():
    assert not metrics.pointing_game(np.zeros((1, 10, 10)), square_mask(), tolerance=5)[0]


def test_energy_in_mask_counts_positive_mass_only():
    maps = np.zeros((1, 10, 10))
    maps[0, 3, 4] = 3          # inside
    maps[0, 9, 9] = 1          # outside
    maps[0, 0, 0] = -5         # negative: ignored
    np.testing.assert_allclose(metrics.energy_in_mask(maps, square_mask()), [0.75])
    np.testing.assert_array_equal(metrics.energy_in_mask(np.zeros((1, 10, 10)), square_mask()),
                                  [0.0])


def test_box_iou_of_the_mask_itself_is_one_and_the_largest_region_wins():
    mask = square_mask()
    np.testing.assert_allclose(metrics.box_iou(mask.astype(float), mask), [1.0])
    maps = mask.astype(float) * 0.5
    maps[0, 8:10, 0:2] = 1.0   # a brighter but smaller region: the larger one is the box
    np.testing.assert_allclose(metrics.box_iou(maps, mask), [1.0])
    shifted = np.roll(mask, 2, axis=2).astype(float)           # 4x4 box moved 2 right
    np.testing.assert_allclose(metrics.box_iou(shifted, mask), [8 / 24])


def test_connected_regions_are_four_connected():
    binary = np.array([[[1, 1, 0, 0],
                        [0, 1, 0, 1],
                        [0, 0, 1, 1],
                        [1, 0, 0, 0]]], dtype=bool)
    labels = metrics.connected_regions(binary)
    assert len(np.unique(labels[labels > 0])) == 3           # (1,1)-(2,2) touch diagonally only


def test_spearman_known_values():
    a = np.array([0.1, 0.5, 0.2, 0.9])
    assert metrics.spearman(a, a ** 3) == pytest.approx(1.0)  # any increasing transform
    assert metrics.spearman(a, -a) == pytest.approx(-1.0)
    # ties share ranks: ranks of [0, 0, 1] are [0.5, 0.5, 2]
    np.testing.assert_allclose(metrics.ranks(np.array([0.0, 0.0, 1.0])), [0.5, 0.5, 2.0])
    assert metrics.spearman(np.zeros(4), a) == 0.0


def test_spearman_matches_the_closed_form_without_ties(rng):
    a, b = rng.normal(size=50), rng.normal(size=50)
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    expected = 1 - 6 * ((ra - rb) ** 2).sum() / (50 * (50 ** 2 - 1))
    assert metrics.spearman(a, b) == pytest.approx(expected)


def test_deletion_and_insertion_curves(small_cnn, images):
    maps = metrics.baseline_maps("random", images)
    curves = metrics.deletion_insertion(small_cnn, images, maps, target=[0, 1, 2], steps=8)
    probabilities = np.exp(small_cnn(nn.Parameter(images)).data)
    probabilities = probabilities[np.arange(3), [0, 1, 2]] / probabilities.sum(axis=1)
    np.testing.assert_allclose(curves["deletion"][:, 0], probabilities)     # nothing removed
    np.testing.assert_allclose(curves["insertion"][:, -1], probabilities)   # all inserted
    for key in ("deletion_auc", "insertion_auc"):
        assert curves[key].shape == (3,) and ((0 <= curves[key]) & (curves[key] <= 1)).all()


def test_baselines(images):
    for kind in metrics.BASELINES:
        assert metrics.baseline_maps(kind, images).shape == (3, 8, 8)
    centre = metrics.baseline_maps("centre", images)[0]
    assert centre[3:5, 3:5].min() == centre.max()
    flat = np.ones((1, 1, 6, 6))
    np.testing.assert_array_equal(metrics.sobel_magnitude(flat), 0)
    with pytest.raises(ValueError, match="expected one of"):
        metrics.baseline_maps("sobel", images)


def test_bilinear_resize_matches_torch(rng):
    torch = pytest.importorskip("torch")
    maps = rng.normal(size=(2, 3, 5))
    expected = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=(8, 11),
                                               mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(bilinear_resize(maps, (8, 11)), expected.numpy(), atol=1e-12)


def test_normalize_and_blur_never_make_nan():
    np.testing.assert_array_equal(normalize(np.zeros((2, 3, 3))), 0)
    np.testing.assert_allclose(normalize(np.array([[[-2.0, 1.0]]])), [[[-1.0, 0.5]]])
    constant = np.full((1, 7, 7), 3.0)
    np.testing.assert_allclose(gaussian_blur(constant, 1.5), constant)


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_the_blur_of_a_point_has_the_gaussian_spread(sigma):
    """A unit impulse blurred by sigma keeps its mass and has variance sigma^2 along each axis
    (within 2%: the kernel stops at 3 sigma)."""
    impulse = np.zeros((1, 41, 41))
    impulse[0, 20, 20] = 1.0
    blurred = gaussian_blur(impulse, sigma)[0]
    d = np.arange(41) - 20
    assert np.isclose(blurred.sum(), 1.0)
    np.testing.assert_allclose([(blurred.sum(axis=1) * d ** 2).sum(),
                                (blurred.sum(axis=0) * d ** 2).sum()], sigma ** 2, rtol=0.02)
