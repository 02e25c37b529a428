import numpy as np
import pytest

from minigrad.data import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ScaleUint8
from tests.helpers import torch_or_skip


@pytest.fixture
def batch():
    return np.random.default_rng(0).random((16, 3, 8, 8), dtype=np.float32)


def test_normalize_per_channel(batch):
    out = Normalize([0.1, 0.2, 0.3], [0.5, 1.0, 2.0])(batch)
    for c, (m, s) in enumerate([(0.1, 0.5), (0.2, 1.0), (0.3, 2.0)]):
        np.testing.assert_allclose(out[:, c], (batch[:, c] - m) / s, rtol=1e-6)
    assert out.dtype == np.float32


def test_normalize_rejects_wrong_channel_count_and_zero_std(batch):
    with pytest.raises(ValueError, match="expected 1 or 3 mean"):
        Normalize([0.1, 0.2], [1.0])(batch)
    with pytest.raises(ValueError, match="positive"):
        Normalize(0.0, 0.0)


def test_random_crop_is_a_shifted_window_of_the_padded_image(batch):
    out = RandomCrop(8, padding=2)(batch, np.random.default_rng(1))
    assert out.shape == batch.shape and out.dtype == np.float32
    padded = np.pad(batch, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for img, crop in zip(padded, out):
        windows = [img[:, t:t + 8, l:l + 8] for t in range(5) for l in range(5)]
        assert any(np.array_equal(crop, w) for w in windows)


def test_random_crop_shifts_differ_across_the_batch(batch):
    out = RandomCrop(8, padding=2)(batch, np.random.default_rng(1))
    assert sum(np.array_equal(o, b) for o, b in zip(out, batch)) < len(batch)


def test_random_crop_to_smaller_size_without_padding(batch):
    assert RandomCrop((5, 6))(batch, np.random.default_rng(0)).shape == (16, 3, 5, 6)
    with pytest.raises(ValueError, match="larger"):
        RandomCrop(9)(batch, np.random.default_rng(0))


def test_random_crop_without_room_is_identity(batch):
    assert np.array_equal(RandomCrop(8)(batch, np.random.default_rng(0)), batch)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_flip_probability_extremes(batch, p):
    out = RandomHorizontalFlip(p)(batch, np.random.default_rng(0))
    assert np.array_equal(out, batch[..., ::-1] if p else batch)


def test_flip_mixes_and_leaves_input_untouched(batch):
    before = batch.copy()
    out = RandomHorizontalFlip(0.5)(batch, np.random.default_rng(0))
    flipped = [np.array_equal(o, b[..., ::-1]) for o, b in zip(out, batch)]
    assert 0 < sum(flipped) < len(batch)
    assert np.array_equal(batch, before)


def test_compose_applies_in_order(batch):
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    composed = Compose([RandomCrop(8, 1), Normalize(0.5, 0.25)])(batch, rng_a)
    by_hand = (RandomCrop(8, 1)(batch, rng_b) - 0.5) / 0.25
    np.testing.assert_allclose(composed, by_hand, rtol=1e-6)


@pytest.fixture
def pixels():
    """uint8 images holding every value 0..255 (each three times), in random order."""
    return np.random.default_rng(0).permutation(np.arange(4 * 3 * 8 * 8) % 256).astype(
        np.uint8).reshape(4, 3, 8, 8)


def test_scale_uint8_is_x_over_255_in_float32_and_leaves_the_input(pixels):
    before = pixels.copy()
    out = ScaleUint8()(pixels)
    assert out.dtype == np.float32 and out.shape == pixels.shape
    np.testing.assert_array_equal(out, pixels.astype(np.float32) / np.float32(255))
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.array_equal(pixels, before)


def test_scale_uint8_matches_torchs_to_tensor_arithmetic(pixels):
    """torchvision's ToTensor() makes uint8 pixels float32 and divides by 255: the same floats."""
    torch = torch_or_skip()
    expected = torch.from_numpy(pixels).float().div(255).numpy()
    np.testing.assert_array_equal(ScaleUint8()(pixels), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint16, bool])
def test_scale_uint8_refuses_other_dtypes_rather_than_guess_their_range(dtype):
    with pytest.raises(TypeError, match=rf"ScaleUint8: expected uint8 images \(0\.\.255\), got "
                                        rf"dtype {np.dtype(dtype)}; leave ScaleUint8 out"):
        ScaleUint8()(np.zeros((2, 1, 2, 2), dtype=dtype))


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, bool])
def test_normalize_refuses_integer_images_naming_scale_uint8(dtype):
    """(x - 0.13) / 0.31 of 0..255 pixels would run on numbers 255 times too large."""
    with pytest.raises(TypeError, match=rf"Normalize: expected floating-point images, got dtype "
                                        rf"{np.dtype(dtype)}; put ScaleUint8\(\) before it"):
        Normalize(0.13, 0.31)(np.zeros((2, 1, 2, 2), dtype=dtype))


def test_a_uint8_pipeline_is_scale_then_crop_then_normalize(pixels):
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    composed = Compose([ScaleUint8(), RandomCrop(8, 2), Normalize(0.5, 0.25)])(pixels, rng_a)
    by_hand = (RandomCrop(8, 2)(pixels.astype(np.float32) / np.float32(255), rng_b) - 0.5) / 0.25
    assert composed.dtype == np.float32
    np.testing.assert_array_equal(composed, by_hand)
