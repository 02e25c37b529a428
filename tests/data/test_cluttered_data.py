import numpy as np
import pytest

from minigrad.data import bundled_mnist, cluttered_mnist


@pytest.fixture(scope="module")
def sample():
    return cluttered_mnist(40, size=48, seed=0, split="test")


def ink_box(mask):
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def test_types_and_shapes(sample):
    images, labels, masks = sample
    assert images.shape == (40, 1, 48, 48) and images.dtype == np.uint8
    assert labels.shape == (40,) and labels.dtype == np.int64
    assert masks.shape == (40, 48, 48) and masks.dtype == bool


def test_deterministic_by_seed(sample):
    assert all(np.array_equal(a, b) for a, b in
               zip(sample, cluttered_mnist(40, size=48, seed=0, split="test")))
    assert not np.array_equal(cluttered_mnist(40, size=48, seed=1, split="test")[0], sample[0])


def test_mask_is_exactly_the_labelled_digits_ink(sample):
    images, labels, masks = sample
    digits, digit_labels = bundled_mnist("test")
    for image, label, mask in zip(images[:, 0], labels, masks):
        top, bottom, left, right = ink_box(mask)
        crop = image[top:bottom, left:right]
        # Inside the digit's ink box there is nothing but the digit ...
        assert np.array_equal(crop > 0, mask[top:bottom, left:right])
        # ... and that crop is the ink box of a bundled test digit with this label.
        matches = [d for d in digits[digit_labels == label, 0]
                   if d.any() and np.array_equal(d[slice(*ink_box(d > 0)[:2]),
                                                   slice(*ink_box(d > 0)[2:])], crop)]
        assert matches


def test_fragments_are_there_and_outside_the_mask(sample):
    images, _, masks = sample
    clutter = (images[:, 0] > 0) & ~masks
    assert (clutter.sum(axis=(1, 2)) > 0).mean() > 0.9


def test_each_digit_used_once_per_round():
    _, labels, _ = cluttered_mnist(1000, size=28, seed=0, split="test", fragments=0)
    assert np.bincount(labels).tolist() == [100] * 10


def test_version_2_defaults_a_64_pixel_canvas_with_10_fragments():
    images, _, masks = cluttered_mnist(30, seed=0, split="test")
    assert images.shape == (30, 1, 64, 64) and masks.shape == (30, 64, 64)
    fewer = cluttered_mnist(30, seed=0, split="test", fragments=6)[0]
    assert ((images > 0) & ~masks[:, None]).sum() > ((fewer > 0) & ~masks[:, None]).sum()


def test_rejects_a_canvas_smaller_than_a_digit():
    with pytest.raises(ValueError, match="at least 28"):
        cluttered_mnist(2, size=20)
