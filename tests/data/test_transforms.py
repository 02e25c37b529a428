import numpy as np
import pytest

from minigrad.data import Compose, Normalize, RandomCrop, RandomHorizontalFlip


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
