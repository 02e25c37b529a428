"""Datasets: anything with a length that returns one example per index."""
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
        examples = [self[i] for i in indices]
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
