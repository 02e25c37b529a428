import hashlib

import pytest

import minigrad.data.download as download_module
from minigrad.data.download import data_dir, download_file


def md5(data):
    return hashlib.md5(data).hexdigest()


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    assert data_dir("mnist") == tmp_path / "mnist"
    assert data_dir("mnist", root=tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("MINIGRAD_DATA")
    assert data_dir("mnist").parts[-3:] == (".cache", "minigrad", "mnist")


def test_download_through_a_monkeypatched_fetch(tmp_path, monkeypatch):
    fetched = []

    def fake_fetch(url, dest):
        fetched.append(url)
        dest.write(b"payload")

    monkeypatch.setattr(download_module, "fetch", fake_fetch)
    path = download_file(["https://example.invalid/a"], tmp_path / "sub" / "a.bin",
                         md5(b"payload"))
    assert path.read_bytes() == b"payload" and fetched == ["https://example.invalid/a"]


def test_next_mirror_after_a_bad_checksum_or_network_error(tmp_path, monkeypatch):
    def fake_fetch(url, dest):
        if "down" in url:
            raise OSError("connection refused")
        dest.write(b"good" if "good" in url else b"evil")

    monkeypatch.setattr(download_module, "fetch", fake_fetch)
    path = download_file(["http://down/", "http://evil/", "http://good/"], tmp_path / "f",
                         md5(b"good"))
    assert path.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]        # no temporary files left


def test_all_mirrors_failing_reports_each_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "fetch", lambda url, dest: dest.write(b"evil"))
    with pytest.raises(OSError) as error:
        download_file(["http://one/", "http://two/"], tmp_path / "f", md5(b"good"))
    assert "http://one/" in str(error.value) and "http://two/" in str(error.value)
    assert f"expected {md5(b'good')}, got {md5(b'evil')}" in str(error.value)
    assert list(tmp_path.iterdir()) == []
