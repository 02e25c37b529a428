import hashlib

import numpy as np
import pytest

from minigrad.data import DATA_VERSIONS, SHAPE_CLASSES, shapes
from minigrad.data.shapes_data import SIZE


@pytest.fixture(scope="module")
def sample():
    return shapes(300, seed=0)


def test_types_shapes_and_balance(sample):
    images, labels, masks = sample
    assert SIZE == 64 and DATA_VERSIONS["shapes"] == 3
    assert images.shape == (300, 3, 64, 64) and images.dtype == np.uint8
    assert labels.shape == (300,) and labels.dtype == np.int64
    assert masks.shape == (300, 64, 64) and masks.dtype == bool
    assert np.bincount(labels, minlength=10).tolist() == [30] * 10
    assert len(SHAPE_CLASSES) == 10


def test_deterministic_by_seed(sample):
    again = shapes(300, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(sample, again))
    assert not np.array_equal(shapes(300, seed=1)[0], sample[0])


def test_masks_are_substantial_and_may_touch_the_border(sample):
    _, _, masks = sample
    area = masks.sum(axis=(1, 2))
    assert area.min() >= 80 and area.max() <= 0.3 * 64 * 64
    # since v2: the centre may come within 0.6 radii of a border, so many objects touch one ...
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
    assert centres.min() < 10 and centres.max() > 64 - 10   # near every border, not centred
    assert (ys.min(), xs.min(), ys.max(), xs.max()) == (0, 0, 63, 63)


def test_distractor_strokes_are_drawn_under_the_object():
    """The same parameters without strokes: only pixels off the object may change."""
    with_strokes = shapes(50, seed=4, noise=0)
    without = shapes(50, seed=4, strokes=0, noise=0)
    changed = (with_strokes[0] != without[0]).any(axis=1)            # (n, H, W)
    masks = with_strokes[2]
    assert not (changed & masks).any()
    assert changed.sum(axis=(1, 2)).mean() > 80                      # thick strokes, there


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


def test_every_length_scales_with_the_side(sample):
    """The same seed draws the same scenes at 32x32 and 64x64: same labels, every object's
    area four times larger and its centre twice as far from the corner (pixel centres at
    i + 0.5, so 64-pixel c64 = 2 * c32 + 0.5), up to the pixel grid's rounding."""
    images, labels, masks = sample
    small_images, small_labels, small_masks = shapes(300, size=32, seed=0)
    assert np.array_equal(labels, small_labels)
    ratio = masks.sum(axis=(1, 2)) / small_masks.sum(axis=(1, 2))
    assert 3.9 < np.median(ratio) < 4.1 and ratio.min() > 3 and ratio.max() < 5.2
    centres = np.array([np.argwhere(mask).mean(axis=0) for mask in masks])
    small_centres = np.array([np.argwhere(mask).mean(axis=0) for mask in small_masks])
    offset = abs(centres - (2 * small_centres + 0.5))
    assert offset.mean() < 0.3 and offset.max() < 2
    # the strokes and lines are as thick relative to the side: about 4x the changed pixels
    strokes = [(a != b).any(axis=1).sum() for a, b in
               ((shapes(50, size, seed=4, noise=0)[0], shapes(50, size, seed=4, noise=0,
                                                              strokes=0, lines=0)[0])
                for size in (32, 64))]
    assert 3.5 < strokes[1] / strokes[0] < 4.5


def test_size_32_draws_exactly_the_v2_images():
    """v3 changed only the canvas: at size=32 the generator gives v2's images, masks and
    labels bit for bit (the hash was taken with v2's generator, commit 48cdfdc), so the
    learnability test's v2 baseline needs no second copy of the generator."""
    images, labels, masks = shapes(50, size=32, seed=0)
    digest = hashlib.sha256()
    for array in (images, labels, masks):
        digest.update(np.ascontiguousarray(array).tobytes())
    assert digest.hexdigest() == \
        "a33162096db507bd32ae8138b839e8780053cb263ed79ef5c0b1562c984911fd"
