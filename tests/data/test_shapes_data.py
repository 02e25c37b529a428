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


def test_masks_are_substantial_and_off_the_border(sample):
    _, _, masks = sample
    area = masks.sum(axis=(1, 2))
    assert area.min() >= 40 and area.max() <= 0.6 * 32 * 32
    # Each object fits in a disc inside the image: it never touches two opposite borders.
    assert not (masks[:, 0].any(1) & masks[:, -1].any(1)).any()
    assert not (masks[:, :, 0].any(1) & masks[:, :, -1].any(1)).any()


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
