"""Datasets: anything with a length that returns one example per index."""
import math

import numpy as np


class Dataset:
    """Abstract data set: ``len(ds)`` examples, ``ds[i]`` -> a tuple such as (image, label).

    Subclasses implement ``__len__`` and ``__getitem__``. ``get_batch`` gathers several
    examples at once; the default stacks single examples, and array-backed data sets override
    it with one fancy-indexing call per array, which is what makes the DataLoader fast.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def get_batch(self, indices):
        """Examples at ``indices`` (1-D int array), stacked: a tuple of arrays of len(indices)."""
        examples = [self[int(i)] for i in indices]
        for example in examples[:1]:
            if not isinstance(example, (tuple, list)):
                # zip(*examples) would split each array along its first axis, silently
                raise TypeError(f"{type(self).__name__}[i] returned a {type(example).__name__}; "
                                f"the DataLoader batches tuples such as (x, y): return (x,) for "
                                f"one array, or pass a collate_fn")
        return tuple(np.stack(column) for column in zip(*examples))


class TensorDataset(Dataset):
    """Wraps equally long arrays, e.g. ``TensorDataset(images, labels)``; example i is
    ``(images[i], labels[i])``. The arrays are kept as they are, not copied."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset arrays must have the same length; got {lengths}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices):
        # One gather per array: copies only the batch, never the whole set.
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order, as PyTorch's Subset: example i
    is ``dataset[indices[i]]``; nothing is copied."""

    def __init__(self, dataset, indices):
        positions = np.asarray(indices)
        if positions.ndim != 1 or not (positions.size == 0
                                       or np.issubdtype(positions.dtype, np.integer)):
            raise TypeError(f"Subset: indices must be a sequence of integers, got "
                            f"{type(indices).__name__} of shape {positions.shape}, dtype "
                            f"{positions.dtype}")
        length = len(dataset)
        if positions.size and (positions.min() < -length or positions.max() >= length):
            raise IndexError(f"Subset: indices must lie in [-{length}, {length}) for a data set "
                             f"of {length} examples, got values in [{positions.min()}, "
                             f"{positions.max()}]")
        self.dataset, self.indices = dataset, indices
        self._positions = positions.astype(np.intp)

    def __len__(self):
        return len(self._positions)

    def __getitem__(self, index):
        return self.dataset[int(self._positions[index])]

    def get_batch(self, indices):
        return get_batch(self.dataset, self._positions[indices])


def get_batch(dataset, indices):
    """The arrays of the examples at ``indices``: ``dataset.get_batch``, or Dataset's stacking
    for any object with __len__ and __getitem__ (PyTorch's loader takes those too)."""
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    return Dataset.get_batch(dataset, indices)


def random_split(dataset, lengths, *, seed=None):
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths, as PyTorch's:
    lengths are counts that add up to len(dataset), or fractions that add up to 1 (the examples
    left over by rounding down go one each to the first parts). ``seed`` (keyword-only: PyTorch's
    third argument is a torch.Generator) makes the split reproducible."""
    lengths = _split_lengths(len(dataset), list(lengths))
    order = np.random.default_rng(seed).permutation(len(dataset))
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - n:end]) for n, end in zip(lengths, ends)]


def _split_lengths(total, lengths):
    """PyTorch's rule: fractions summing to 1 become floor(total * f) each, plus one for the
    first (total - sum) parts; counts must add up to total."""
    if not lengths or not all(isinstance(n, (int, float, np.integer, np.floating))
                              and not isinstance(n, bool) for n in lengths):
        raise TypeError(f"random_split: lengths must be a non-empty list of numbers, got "
                        f"{lengths!r}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= total:
        for position, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction {position} is {fraction}, not in "
                                 f"[0, 1]")
        counts = [math.floor(total * fraction) for fraction in lengths]
        for position in range(total - sum(counts)):
            counts[position % len(counts)] += 1
        lengths = counts
    if any(isinstance(n, float) and not n.is_integer() for n in lengths) or min(lengths) < 0:
        raise ValueError(f"random_split: lengths must be counts >= 0 (or fractions adding up to "
                         f"1), got {lengths}")
    if sum(lengths) != total:
        raise ValueError(f"random_split: the lengths add up to {sum(lengths)}, but the data set "
                         f"has {total} examples")
    return [int(n) for n in lengths]


class DataVersionError(ValueError):
    """A model or a table made on another version of a generated data set than this one."""


def check_data_version(dataset, found, what="the model"):
    """Raise DataVersionError unless `found`, the version of `dataset` recorded with `what`
    (None: recorded before versions were, i.e. version 1), is the generator's version now
    (DATA_VERSIONS), so that an old model or table is never scored on new data silently."""
    from minigrad.data import DATA_VERSIONS
    expected = DATA_VERSIONS[dataset]
    found = 1 if found is None else int(found)
    if found != expected:
        raise DataVersionError(
            f"{what} was made on {dataset} v{found} but the generator now makes {dataset} "
            f"v{expected}; scored here its figures would not mean what they say: retrain it "
            f"on v{expected}")
