"""minigrad.utils.data, PyTorch's path to the loading API: the same classes as minigrad.data, and
PyTorch's DataLoader arguments honoured in-process or refused with a sentence."""
import numpy as np
import pytest

import minigrad
import minigrad.data
from minigrad.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split
from tests.helpers import torch_or_skip

FEATURES = np.arange(40, dtype=np.float32).reshape(10, 4)
LABELS = np.arange(10) % 3


def batches(loader):
    return [tuple(np.asarray(part) for part in batch) for batch in loader]


def assert_same_batches(got, expected):
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_the_names_are_minigrad_datas_own_objects():
    for name in ("Dataset", "TensorDataset", "Subset", "random_split", "DataLoader"):
        assert getattr(minigrad.utils.data, name) is getattr(minigrad.data, name)


def test_torch_style_access_through_the_top_package():
    import minigrad as torch
    assert torch.utils.data.DataLoader is DataLoader


@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_are_torchs(drop_last):
    torch = torch_or_skip()
    ours = DataLoader(TensorDataset(FEATURES, LABELS), batch_size=4, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(FEATURES), torch.tensor(LABELS)),
        batch_size=4, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert_same_batches(batches(ours), [tuple(t.numpy() for t in b) for b in theirs])


MIXED = (np.arange(6 * 3 * 2 * 2, dtype=np.uint8).reshape(6, 3, 2, 2) * 10,   # 0..230
         np.linspace(-1, 1, 12).reshape(6, 2),                                # float64
         np.arange(6, dtype=np.int32) % 3, np.arange(6) - 3,                  # int32, int64
         np.arange(6, dtype=np.uint8), np.arange(6) % 2 == 0)                 # uint8, bool


def dtypes_and_values(loader):
    """[[(dtype, values as nested lists) of each part] of each batch]: either library's loader."""
    return [[(np.asarray(part).dtype, np.asarray(part).tolist()) for part in batch]
            for batch in loader]


def test_batches_keep_every_dtype_and_value_as_torchs_do():
    """PyTorch's loader keeps each array's dtype: uint8 images come out uint8 0..255 (not
    divided by 255), float64 float64, int32 labels int32. minigrad's gives the same."""
    torch = torch_or_skip()
    ours = DataLoader(TensorDataset(*MIXED), batch_size=4)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*(torch.from_numpy(a) for a in MIXED)), batch_size=4)
    expected = dtypes_and_values(theirs)
    assert expected[0][0][0] == np.uint8                  # what the comparison is about
    assert dtypes_and_values(ours) == expected


class PythonValues:
    """Examples of Python and NumPy scalars and arrays, as a PyTorch user's data set returns."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return (np.full((1, 2, 2), 50 * i, np.uint8), i, 0.5 * i, np.float32(i), np.int32(i),
                i % 2 == 0, np.full(2, i, np.int16))


def test_python_and_numpy_examples_stack_to_torchs_dtypes():
    """Python ints -> int64, Python floats -> float64, bools -> bool, NumPy values keep theirs:
    torch's default_collate, and minigrad's stacking."""
    torch = torch_or_skip()
    assert dtypes_and_values(DataLoader(PythonValues(), batch_size=2)) == \
        dtypes_and_values(torch.utils.data.DataLoader(PythonValues(), batch_size=2))


def test_any_number_of_workers_gives_the_same_batches():
    def load(**options):
        return batches(DataLoader(TensorDataset(FEATURES, LABELS), 3, True, seed=4, **options))

    expected = load()
    for options in ({"num_workers": 4}, {"num_workers": 2, "pin_memory": True,
                                         "persistent_workers": True, "prefetch_factor": 4,
                                         "timeout": 5.0, "multiprocessing_context": "spawn",
                                         "in_order": False, "pin_memory_device": ""},
                    {"worker_init_fn": lambda worker: None}):
        assert_same_batches(load(**options), expected)


def test_collate_fn_gets_the_examples_and_makes_the_batch():
    seen = []

    def collate(examples):
        seen.append(examples)
        return {"x": np.stack([x for x, _ in examples]), "n": len(examples)}

    loader = DataLoader(TensorDataset(FEATURES, LABELS), batch_size=4, collate_fn=collate)
    out = list(loader)
    assert [b["n"] for b in out] == [4, 4, 2]
    np.testing.assert_array_equal(out[0]["x"], FEATURES[:4])
    assert len(seen[0]) == 4 and np.array_equal(seen[0][1][0], FEATURES[1]) \
        and seen[0][1][1] == LABELS[1]


def test_collate_fn_batches_are_torchs():
    torch = torch_or_skip()

    def collate(examples):                               # works on either library's examples
        return [np.asarray(x).sum() for x, _ in examples]

    ours = list(DataLoader(TensorDataset(FEATURES, LABELS), 3, collate_fn=collate))
    theirs = list(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(FEATURES), torch.tensor(LABELS)), 3,
        collate_fn=collate))
    assert ours == theirs


@pytest.mark.parametrize("options, message", [
    ({"sampler": [0, 1, 2]}, "takes no sampler or batch_sampler; shuffle=True"),
    ({"batch_sampler": [[0, 1]]}, "takes no sampler or batch_sampler"),
    ({"generator": object()}, "takes no generator; its shuffling is reproducible by seed="),
    ({"num_workers": 2, "worker_init_fn": print}, "would never call worker_init_fn"),
    ({"num_workers": -1}, r"num_workers must be an integer >= 0; got -1"),
    ({"num_workers": True}, r"num_workers must be an integer >= 0; got True"),
    ({"timeout": -1}, r"timeout must be a number >= 0; got -1"),
    ({"collate_fn": list, "transform": lambda x, rng: x}, "give collate_fn or transform"),
])
def test_what_cannot_be_honoured_is_refused_with_a_sentence(options, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(TensorDataset(FEATURES, LABELS), 2, **options)


class PlainDataset:
    """A PyTorch-style map-style data set that does not derive from minigrad's Dataset."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i


def test_any_object_with_len_and_getitem_is_a_data_set():
    (x, y), *_ = DataLoader(PlainDataset(), batch_size=2)
    np.testing.assert_array_equal(np.asarray(x), [[0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(np.asarray(y), [0, 1])


def test_examples_that_are_not_tuples_are_refused_rather_than_split():
    class SingleArrays(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.full(3, i, dtype=np.float32)

    with pytest.raises(TypeError, match=r"SingleArrays\[i\] returned a ndarray; the DataLoader "
                                        r"batches tuples such as \(x, y\)"):
        next(iter(DataLoader(SingleArrays(), batch_size=2)))


# ----- Subset and random_split ------------------------------------------------------------------
def test_subset_picks_the_examples_in_order():
    subset = Subset(TensorDataset(FEATURES, LABELS), [7, 2, -1])
    assert len(subset) == 3 and subset.indices == [7, 2, -1]
    np.testing.assert_array_equal(subset[1][0], FEATURES[2])
    (x, y), = DataLoader(subset, batch_size=3)
    np.testing.assert_array_equal(np.asarray(x), FEATURES[[7, 2, 9]])
    np.testing.assert_array_equal(np.asarray(y), LABELS[[7, 2, 9]])
    (x, _), = DataLoader(Subset(PlainDataset(), [4, 0]), batch_size=2)
    np.testing.assert_array_equal(np.asarray(x)[:, 0], [4, 0])


def test_subset_refuses_bad_indices():
    with pytest.raises(IndexError, match=r"indices must lie in \[-10, 10\) .* got values in "
                                         r"\[0, 10\]"):
        Subset(TensorDataset(FEATURES, LABELS), [0, 10])
    with pytest.raises(TypeError, match="indices must be a sequence of integers"):
        Subset(TensorDataset(FEATURES, LABELS), [0.5])


@pytest.mark.parametrize("lengths", [[7, 3], [0.7, 0.3], [0.5, 0.25, 0.25], [0.34, 0.33, 0.33],
                                     [0.1] * 10, [10, 0], [1.0]])
def test_random_split_lengths_are_torchs(lengths):
    torch = torch_or_skip()
    dataset = TensorDataset(FEATURES, LABELS)
    parts = random_split(dataset, lengths, seed=0)
    expected = torch.utils.data.random_split(range(10), lengths)
    assert [len(p) for p in parts] == [len(p) for p in expected]
    together = np.concatenate([p.indices for p in parts])
    assert sorted(together.tolist()) == list(range(10))          # disjoint, and all of them


def test_random_split_is_reproducible_by_seed_and_random_without():
    dataset = TensorDataset(FEATURES, LABELS)
    first = [p.indices for p in random_split(dataset, [5, 5], seed=1)]
    again = [p.indices for p in random_split(dataset, [5, 5], seed=1)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    orders = {tuple(random_split(dataset, [10])[0].indices) for _ in range(5)}
    assert len(orders) > 1


@pytest.mark.parametrize("lengths, error, message", [
    ([6, 3], ValueError, "the lengths add up to 9, but the data set has 10 examples"),
    ([1.5, -0.5], ValueError, r"fraction 0 is 1.5, not in \[0, 1\]"),
    ([2.5, 7.5], ValueError, "lengths must be counts >= 0"),
    ([], TypeError, "lengths must be a non-empty list of numbers"),
    (["a", 3], TypeError, "lengths must be a non-empty list of numbers"),
])
def test_random_split_refuses_lengths_that_do_not_fit(lengths, error, message):
    with pytest.raises(error, match=message):
        random_split(TensorDataset(FEATURES, LABELS), lengths)
