"""CIFAR-10, binary version (no pickle): 50,000 train / 10,000 test colour images, 32x32.

``cifar10(split)`` reads ``data_batch_1.bin`` .. ``data_batch_5.bin`` or ``test_batch.bin``
from ``root/cifar-10-batches-bin`` (or ``root`` itself); root defaults to
``$MINIGRAD_DATA/cifar10`` or ``~/.cache/minigrad/cifar10``. If they are missing but
``root/cifar-10-binary.tar.gz`` is there (or ``download=True`` fetched it, md5-checked), the
batch files are extracted from it first.

Each batch file is a sequence of 3,073-byte records: one label byte (0..9), then 3,072 pixel
bytes -- the red, green and blue 32x32 planes, row-major. That is already NCHW.
Reference: Alex Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009.
"""
import gzip
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

from .download import data_dir, download_file
from .mnist_data import check_split

CIFAR10_URLS = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",)
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"   # from the CIFAR page, binary version
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_SUBDIR = "cifar-10-batches-bin"
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3 * 32 * 32


def cifar10(split="train", root=None, download=False):
    """CIFAR-10: images uint8 (N, 3, 32, 32), labels int64 (N,) indexing CIFAR10_CLASSES."""
    check_split(split)
    directory = data_dir("cifar10", root)
    names = CIFAR10_FILES[split]
    batch_dir = _find_batch_dir(directory, names)
    if batch_dir is None:
        archive = directory / CIFAR10_ARCHIVE
        if not archive.is_file():
            if not download:
                raise FileNotFoundError(
                    f"CIFAR-10 {split}: {list(names)} not found in {directory / CIFAR10_SUBDIR} "
                    f"and no {CIFAR10_ARCHIVE} in {directory}; pass download=True")
            download_file(CIFAR10_URLS, archive, CIFAR10_MD5)
        batch_dir = directory / CIFAR10_SUBDIR
        extract_batches(archive, batch_dir)
    batches = [read_cifar_batch(batch_dir / name) for name in names]
    return (np.concatenate([images for images, _ in batches]),
            np.concatenate([labels for _, labels in batches]))


def read_cifar_batch(path):
    """One binary batch file -> (images uint8 (N, 3, 32, 32), labels int64 (N,)).

    Raises ValueError naming the file when its size is not a whole number of records or a
    label is outside 0..9 (the signs of a truncated or foreign file).
    """
    size = os.path.getsize(path)
    if size == 0 or size % RECORD_BYTES:
        raise ValueError(f"{path}: size {size} bytes is not a positive multiple of the "
                         f"{RECORD_BYTES}-byte record (1 label + 3x32x32 pixels); "
                         f"{size % RECORD_BYTES} bytes left over (truncated?)")
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise ValueError(f"{path}: record {bad} has label {labels[bad]}, expected 0..9")
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE), labels


def extract_batches(archive, batch_dir):
    """Copy the six batch files out of the tarball into ``batch_dir``, each written to a
    temporary file and renamed, so an interrupted extraction leaves no half file behind.

    Only members named exactly ``cifar-10-batches-bin/<batch>.bin`` are read and the output
    names are ours, so a hostile archive cannot write outside ``batch_dir``.
    """
    import tarfile           # here: only an extraction needs it, `import minigrad` does not
    wanted = {f"{CIFAR10_SUBDIR}/{name}" for names in CIFAR10_FILES.values() for name in names}
    batch_dir = Path(batch_dir)
    batch_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    _write_atomically(batch_dir / Path(member.name).name,
                                      tar.extractfile(member).read())
                    wanted.discard(member.name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(f"{archive}: corrupt or truncated archive ({error})") from error
    if wanted:
        raise ValueError(f"{archive}: missing members {sorted(wanted)}")


def _find_batch_dir(directory, names):
    for candidate in (directory / CIFAR10_SUBDIR, directory):
        if all((candidate / name).is_file() for name in names):
            return candidate
    return None


def _write_atomically(path, data):
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
