import numpy as np
import pytest

from minigrad import Tensor
from minigrad.data import (Compose, DataLoader, Dataset, Normalize, RandomHorizontalFlip,
                           ScaleUint8, TensorDataset)


def make_dataset(n=10):
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 1, 2, 2)
    return TensorDataset(images, np.arange(n, dtype=np.int32))


def order_of(loader):
    return np.concatenate([y for _, y in loader])


class ListDataset(Dataset):
    """A data set that is not backed by arrays: exercises Dataset.get_batch's stacking."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full((1, 2, 2), i, dtype=np.float64), i


def test_tensor_dataset_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="same length"):
        TensorDataset(np.zeros(3), np.zeros(4))


def test_batches_keep_the_data_sets_dtypes_and_values():
    """As PyTorch's loader: uint8 images stay uint8 0..255 (no silent / 255), int32 labels int32."""
    x, y = next(iter(DataLoader(make_dataset(), batch_size=4)))
    assert isinstance(x, Tensor) and isinstance(y, Tensor) and not x.requires_grad
    assert x.dtype == np.uint8 and x.shape == (4, 1, 2, 2)
    assert x.numpy().ravel().tolist() == list(range(16))
    assert y.dtype == np.int32 and y.tolist() == [0, 1, 2, 3]


def test_scale_uint8_asks_for_float32_in_unit_range():
    x, _ = next(iter(DataLoader(make_dataset(), batch_size=4, transform=ScaleUint8())))
    assert x.dtype == np.float32
    expected = np.arange(16, dtype=np.float32).reshape(4, 1, 2, 2) / np.float32(255)
    np.testing.assert_array_equal(x.numpy(), expected)          # exactly x / 255 in float32


def test_the_transform_receives_the_data_sets_dtype():
    seen = []

    def record(x, rng):
        seen.append(x.dtype)
        return x

    next(iter(DataLoader(make_dataset(), batch_size=4, transform=record)))
    next(iter(DataLoader(make_dataset(), batch_size=4, transform=Compose([ScaleUint8(), record]))))
    assert seen == [np.uint8, np.float32]


def test_normalizing_uint8_batches_without_scaling_them_is_refused():
    loader = DataLoader(make_dataset(), batch_size=4, transform=Normalize(0.13, 0.31))
    with pytest.raises(TypeError, match=r"Normalize: expected floating-point images, got dtype "
                                        r"uint8; put ScaleUint8\(\) before it"):
        next(iter(loader))


@pytest.mark.parametrize("drop_last, sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_len_and_drop_last(drop_last, sizes):
    loader = DataLoader(make_dataset(10), batch_size=4, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(y) for _, y in loader] == sizes


def test_exact_multiple_has_no_empty_batch():
    assert [len(y) for _, y in DataLoader(make_dataset(8), batch_size=4)] == [4, 4]


def test_bad_batch_size_is_rejected():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(make_dataset(), batch_size=0)


def test_shuffle_is_a_permutation_that_changes_every_epoch():
    loader = DataLoader(make_dataset(50), batch_size=8, shuffle=True, seed=3)
    first, second = order_of(loader), order_of(loader)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert not np.array_equal(first, second)


def test_same_seed_same_orders_and_set_epoch_replays_an_epoch():
    a = DataLoader(make_dataset(50), batch_size=8, shuffle=True, seed=3)
    b = DataLoader(make_dataset(50), batch_size=8, shuffle=True, seed=3)
    epochs_a = [order_of(a) for _ in range(3)]
    assert all(np.array_equal(order_of(b), e) for e in epochs_a)
    b.set_epoch(1)                      # a resumed run starting at epoch 1
    assert np.array_equal(order_of(b), epochs_a[1])


def test_no_shuffle_keeps_order():
    assert order_of(DataLoader(make_dataset(10), batch_size=3)).tolist() == list(range(10))


def test_transform_receives_a_reproducible_rng():
    def run(seed):
        loader = DataLoader(make_dataset(40), batch_size=8, seed=seed,
                            transform=RandomHorizontalFlip(0.5))
        return np.concatenate([x for x, _ in loader])
    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_generic_dataset_is_stacked():
    """float64 arrays stay float64, Python ints become int64: what torch's default collate makes."""
    x, y = next(iter(DataLoader(ListDataset(), batch_size=5)))
    assert x.dtype == np.float64 and x.shape == (5, 1, 2, 2)
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3, 4]


def test_array_dataset_is_gathered_per_batch_not_copied_whole():
    class Counting(TensorDataset):
        requested = []

        def get_batch(self, indices):
            self.requested.append(len(indices))
            return super().get_batch(indices)

    loader = DataLoader(Counting(*make_dataset(10).arrays), batch_size=4, shuffle=True, seed=0)
    list(loader)
    assert Counting.requested == [4, 4, 2]


def test_extra_arrays_follow_the_labels():
    masks = np.ones((6, 2, 2), dtype=bool)
    x, y, m = next(iter(DataLoader(TensorDataset(np.zeros((6, 1, 2, 2)), np.arange(6), masks),
                                   batch_size=6)))
    assert m.dtype == bool and m.shape == (6, 2, 2)


def test_batch_size_defaults_to_one_and_seed_is_keyword_only():
    """As in PyTorch: DataLoader(ds) gives single examples, and a fourth positional argument
    (PyTorch's sampler) is refused instead of being taken for the seed."""
    assert len(DataLoader(make_dataset(10))) == 10
    with pytest.raises(TypeError):
        DataLoader(make_dataset(10), 4, True, 3)
