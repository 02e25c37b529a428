import gzip
import hashlib

import numpy as np
import pytest

import minigrad.data.mnist_data as mnist_module
from minigrad.data import bundled_mnist, mnist
from minigrad.data.mnist_data import read_idx


def idx_bytes(array):
    """Encode a uint8 array as IDX: 0, 0, type 0x08, ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_split(directory, split="train", n=6, compress=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    names = mnist_module.MNIST_FILES[split]
    for name, array in zip(names, (images, labels)):
        data = idx_bytes(array)
        if compress:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_full_mnist_from_idx_files(tmp_path, compress):
    images, labels = write_split(tmp_path, "test", compress=compress)
    x, y = mnist("test", root=tmp_path)
    assert x.dtype == np.uint8 and x.shape == (6, 1, 28, 28)
    assert y.dtype == np.int64
    assert np.array_equal(x[:, 0], images) and np.array_equal(y, labels)


def test_mnist_data_env_variable_is_the_default_root(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    write_split(tmp_path / "mnist", "train", n=3)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    assert len(mnist("train")[0]) == 3


def test_wrong_magic_is_rejected(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28))))
    with pytest.raises(ValueError, match=r"labels.*magic number expected 00000801, got 00000803"):
        read_idx(path, ndim=1)


@pytest.mark.parametrize("cut, message", [(-1, r"expected 3152 bytes, got 3151 \(truncated\)"),
                                          (10, r"expected 16 bytes, got 10")])
def test_truncated_file_is_rejected(tmp_path, cut, message):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28)))[:cut])
    with pytest.raises(ValueError, match=message):
        read_idx(path, ndim=3)


def test_trailing_bytes_are_rejected(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28))) + b"\0")
    with pytest.raises(ValueError, match="expected 3152 bytes, got 3153"):
        read_idx(path, ndim=3)


def test_truncated_gzip_is_rejected(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.ones((4, 28, 28))))[:-12])
    with pytest.raises(ValueError, match="images.gz: corrupt or truncated gzip"):
        read_idx(path, ndim=3)


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        read_idx(tmp_path / "empty", ndim=1)


def test_image_and_label_counts_must_agree(tmp_path):
    write_split(tmp_path, "train", n=5)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4)))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        mnist("train", root=tmp_path)


def test_missing_files_in_an_explicit_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        mnist("train", root=tmp_path)
    write_split(tmp_path, "train")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        mnist("train", root=tmp_path)


def test_bad_split_name():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        mnist("validation")


def test_bundled_split_sizes_balance_and_disjointness(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))          # no files there
    (xtr, ytr), (xte, yte) = mnist("train"), mnist("test")
    assert xtr.shape == (4000, 1, 28, 28) and xte.shape == (1000, 1, 28, 28)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64
    assert np.bincount(ytr).tolist() == [400] * 10 and np.bincount(yte).tolist() == [100] * 10
    assert ytr[:20].tolist() == list(range(10)) * 2               # interleaved by digit
    train_rows = {image.tobytes() for image in xtr}
    assert not any(image.tobytes() in train_rows for image in xte)


def test_bundled_split_is_fixed():
    x1, y1 = bundled_mnist("test")
    x2, y2 = bundled_mnist("test")
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    x1[0] = 0                                                   # callers get their own copy
    assert not np.array_equal(bundled_mnist("test")[0][0], x1[0])


def test_download_from_a_local_mirror_with_checksums(tmp_path, monkeypatch):
    server, root = tmp_path / "server", tmp_path / "root"
    server.mkdir()
    images, labels = write_split(server, "train", compress=True)
    for name in mnist_module.MNIST_FILES["train"]:
        digest = hashlib.md5((server / (name + ".gz")).read_bytes()).hexdigest()
        monkeypatch.setitem(mnist_module.MNIST_MD5, name + ".gz", digest)
    monkeypatch.setattr(mnist_module, "MNIST_MIRRORS",
                        ("file:///nonexistent/mirror/", server.as_uri() + "/"))
    x, y = mnist("train", root=root, download=True)
    assert np.array_equal(x[:, 0], images) and np.array_equal(y, labels)
    assert sorted(p.name for p in root.iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, monkeypatch):
    server, root = tmp_path / "server", tmp_path / "root"
    server.mkdir()
    write_split(server, "test", compress=True)              # real md5s will not match these
    monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", (server.as_uri() + "/",))
    with pytest.raises(OSError, match="md5 mismatch"):
        mnist("test", root=root, download=True)
    assert list(root.iterdir()) == []
