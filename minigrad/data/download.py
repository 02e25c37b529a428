"""Where data sets live on disk, and a checksum-verified, atomic download.

Files go to ``root`` when given, else ``$MINIGRAD_DATA/<name>``, else
``~/.cache/minigrad/<name>``. A download is written to a temporary file in the destination
directory and renamed into place only after its checksum matched, so an interrupted or
corrupted transfer never leaves a file that looks complete.
"""
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

CHUNK_BYTES = 1 << 20


def data_dir(name, root=None):
    """Directory of data set ``name``: root, else $MINIGRAD_DATA/name, else
    ~/.cache/minigrad/name."""
    if root is not None:
        return Path(root).expanduser()
    base = os.environ.get("MINIGRAD_DATA") or Path.home() / ".cache" / "minigrad"
    return Path(base).expanduser() / name


def file_digest(path, algorithm):
    """Hex digest of a file, read in chunks so that a 160 MB archive needs no 160 MB buffer."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url, dest):
    """Copy the bytes at ``url`` into the open binary file ``dest``. Tests replace this."""
    import urllib.request    # here, not at the top: it pulls in http, ssl and email, which
    #                          `import minigrad` need not pay for
    with urllib.request.urlopen(url, timeout=60) as response:
        shutil.copyfileobj(response, dest, CHUNK_BYTES)


def download_file(urls, path, md5):
    """Download ``path`` from the first of ``urls`` that delivers a file with this md5.

    Mirrors are tried in order; a network error or a checksum mismatch moves on to the next.
    Raises OSError listing every attempt when none succeeds. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _download_one(url, path, md5)
            return path
        except (OSError, ValueError) as error:
            failures.append(f"  {url}: {error}")
    raise OSError(f"could not download {path.name}; tried:\n" + "\n".join(failures))


def _download_one(url, path, md5):
    """Fetch into a temporary file beside ``path``; verify; rename into place (atomic)."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as tmp:
            fetch(url, tmp)
        actual = file_digest(tmp_name, "md5")
        if actual != md5:
            raise ValueError(f"md5 mismatch: expected {md5}, got {actual}")
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
