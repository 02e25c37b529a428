import numpy as np
import pytest

from minigrad.data import SHAPE_CLASSES, shapes


@pytest.fixture(scope="module")
def sample():
    return shapes(300, seed=0)


def test_types_shapes_and_balance(sample):
    images, labels, masks = sample
    assert images.shape == (300, 3, 32, 32) and images.dtype == np.uint8
    assert labels.shape == (300,) and labels.dtype == np.int64
    assert masks.shape == (300, 32, 32) and masks.dtype == bool
    assert np.bincount(labels, minlength=10).tolist() == [30] * 10
    assert len(SHAPE_CLASSES) == 10


def test_deterministic_by_seed(sample):
    again = shapes(300, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(sample, again))
    assert not np.array_equal(shapes(300, seed=1)[0], sample[0])


def test_masks_are_substantial_and_may_touch_the_border(sample):
    _, _, masks = sample
    area = masks.sum(axis=(1, 2))
    assert area.min() >= 20 and area.max() <= 0.3 * 32 * 32
    # v2: the centre may come within 0.6 radii of a border, so many objects touch one ...
    touches = masks[:, 0].any(1) | masks[:, -1].any(1) | masks[:, :, 0].any(1) | \
        masks[:, :, -1].any(1)
    assert 0.2 < touches.mean() < 0.8
    # ... but an object is at most 0.68 of the side across: it never spans the whole image.
    assert not (masks[:, 0].any(1) & masks[:, -1].any(1)).any()
    assert not (masks[:, :, 0].any(1) & masks[:, :, -1].any(1)).any()


def test_objects_are_spread_over_the_whole_canvas(sample):
    _, _, masks = sample
    ys, xs = np.nonzero(masks.sum(axis=0))
    centres = np.array([np.argwhere(mask).mean(axis=0) for mask in masks])   # (y, x)
    assert centres.min() < 5 and centres.max() > 32 - 5     # near every border, not centred
    assert (ys.min(), xs.min(), ys.max(), xs.max()) == (0, 0, 31, 31)


def test_distractor_strokes_are_drawn_under_the_object():
    """The same parameters without strokes: only pixels off the object may change."""
    with_strokes = shapes(50, seed=4, noise=0)
    without = shapes(50, seed=4, strokes=0, noise=0)
    changed = (with_strokes[0] != without[0]).any(axis=1)            # (n, H, W)
    masks = with_strokes[2]
    assert not (changed & masks).any()
    assert changed.sum(axis=(1, 2)).mean() > 20                      # thick strokes, there


def test_object_is_one_flat_colour_under_noise(sample):
    images, _, masks = sample
    for image, mask in zip(images[:50].astype(float), masks[:50]):
        inside = image[:, mask]                                   # (3, object pixels)
        assert inside.std(axis=1).max() < 0.04 * 255 * 1.5        # only the pixel noise


def test_object_contrasts_with_background(sample):
    images, _, masks = sample
    for image, mask in zip(images[:50].astype(float), masks[:50]):
        gap = image[:, mask].mean(1) - image[:, ~mask].mean(1)
        assert np.linalg.norm(gap) > 40


def test_other_sizes():
    images, _, masks = shapes(20, size=64, seed=3)
    assert images.shape == (20, 3, 64, 64) and masks.sum(axis=(1, 2)).min() > 100
