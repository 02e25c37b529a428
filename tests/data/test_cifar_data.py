import hashlib
import io
import tarfile

import numpy as np
import pytest

import minigrad.data.cifar_data as cifar_module
from minigrad.data import cifar10
from minigrad.data.cifar_data import read_cifar_batch


def batch_bytes(n, seed):
    """n records of 1 label byte + 3x32x32 pixel bytes; returns (bytes, images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
    return records.tobytes(), images, labels


def write_batches(directory, n=3):
    """All six batch files; returns the expected (images, labels) of both splits."""
    directory.mkdir(parents=True, exist_ok=True)
    expected, seed = {}, 0
    for split, names in cifar_module.CIFAR10_FILES.items():
        parts = []
        for name in names:
            seed += 1
            data, images, labels = batch_bytes(n, seed)
            (directory / name).write_bytes(data)
            parts.append((images, labels))
        expected[split] = (np.concatenate([p[0] for p in parts]),
                           np.concatenate([p[1] for p in parts]))
    return expected


def make_tarball(path, batch_dir):
    with tarfile.open(path, "w:gz") as tar:
        for file in sorted(batch_dir.iterdir()):
            tar.add(file, arcname=f"cifar-10-batches-bin/{file.name}")
        info = tarfile.TarInfo("../evil.bin")             # must be ignored, never written
        tar.addfile(info, io.BytesIO(b""))


def test_reads_batches_in_either_layout(tmp_path):
    expected = write_batches(tmp_path / "cifar-10-batches-bin")
    for root in (tmp_path, tmp_path / "cifar-10-batches-bin"):
        for split in ("train", "test"):
            images, labels = cifar10(split, root=root)
            assert images.dtype == np.uint8 and labels.dtype == np.int64
            assert np.array_equal(images, expected[split][0])
            assert np.array_equal(labels, expected[split][1])
    assert cifar10("train", root=tmp_path)[0].shape == (15, 3, 32, 32)


def test_truncated_batch_is_rejected(tmp_path):
    data, _, _ = batch_bytes(2, seed=0)
    (tmp_path / "b.bin").write_bytes(data[:-5])
    with pytest.raises(ValueError, match=r"b.bin: size 6141 bytes .* 3068 bytes left over"):
        read_cifar_batch(tmp_path / "b.bin")


def test_empty_batch_is_rejected(tmp_path):
    (tmp_path / "b.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="size 0 bytes"):
        read_cifar_batch(tmp_path / "b.bin")


def test_label_out_of_range_is_rejected(tmp_path):
    data = bytearray(batch_bytes(2, seed=0)[0])
    data[3073] = 11                                      # label byte of record 1
    (tmp_path / "b.bin").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="record 1 has label 11"):
        read_cifar_batch(tmp_path / "b.bin")


def test_missing_files_suggest_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        cifar10("test", root=tmp_path)


def test_archive_present_is_extracted(tmp_path):
    expected = write_batches(tmp_path / "source")
    root = tmp_path / "root"
    root.mkdir()
    make_tarball(root / "cifar-10-binary.tar.gz", tmp_path / "source")
    images, labels = cifar10("test", root=root)
    assert np.array_equal(images, expected["test"][0])
    assert not (tmp_path / "evil.bin").exists()


def test_truncated_archive_is_rejected(tmp_path):
    write_batches(tmp_path / "source")
    archive = tmp_path / "cifar-10-binary.tar.gz"
    make_tarball(archive, tmp_path / "source")
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(ValueError, match="corrupt or truncated archive"):
        cifar10("train", root=tmp_path)


def test_download_checks_md5_then_extracts(tmp_path, monkeypatch):
    expected = write_batches(tmp_path / "source")
    tarball = tmp_path / "served.tar.gz"
    make_tarball(tarball, tmp_path / "source")
    served = tarball.read_bytes()
    monkeypatch.setattr("minigrad.data.download.fetch", lambda url, dest: dest.write(served))
    root = tmp_path / "root"
    with pytest.raises(OSError, match="md5 mismatch"):          # the official md5 differs
        cifar10("train", root=root, download=True)
    assert not (root / "cifar-10-binary.tar.gz").exists()
    monkeypatch.setattr(cifar_module, "CIFAR10_MD5", hashlib.md5(served).hexdigest())
    images, labels = cifar10("train", root=root, download=True)
    assert np.array_equal(labels, expected["train"][1])
