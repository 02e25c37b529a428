"""Saving and loading state as `.npz` files: plain arrays, no pickle, written atomically.

A model's `state_dict()` is already flat (name -> ndarray). An optimizer's or a scheduler's is
nested (dicts, lists, numbers); `flatten_state` turns any such nesting into dotted names, and
`unflatten_state` turns them back, so everything a training run needs fits in one file:

    nn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": epoch}, "run.npz")

    checkpoint = nn.load("run.npz")                 # flat: {"model.fc.weight": array, ...}
    model.load_state_dict(select(checkpoint, "model"))
    optimizer.load_state_dict(unflatten_state(select(checkpoint, "optimizer")))
    scheduler.load_state_dict(unflatten_state(select(checkpoint, "scheduler")))
    epoch = int(checkpoint["epoch"])

A file that cannot be read (truncated, corrupt, not an .npz, or holding pickled objects, which are
never unpickled) raises `CheckpointError` naming the file and what is wrong with it. A save that
fails (disk full, permission denied) raises an OSError that names the file and says the old file
was kept. The temporary file of a save in progress is named `.NAME.XXXX.partial`: if the process
is killed mid-write it stays behind as obvious junk, and `remove_partial_files` (called by `fit`
and `minigrad train` when they start) deletes it.
"""
import glob
import os
import tempfile
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from minigrad.nn.module import Module


PARTIAL_SUFFIX = ".partial"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")     # a zip file's first bytes (an empty one: the second)
NPY_MAGIC = b"\x93NUMPY"


class CheckpointError(ValueError):
    """A state file that cannot be loaded; the message names the file and what is wrong."""


def save(model_or_state, path):
    """Write a Module's state dict (or any state, see `flatten_state`) to the .npz file `path`.

    Atomic: the arrays go to a temporary file in the same directory, which then replaces `path`
    in one `os.replace`; a crash, a kill or an exception mid-write leaves any old file intact.
    """
    state = model_or_state.state_dict() if isinstance(model_or_state, Module) else model_or_state
    arrays = flatten_state(state)  # before any file exists: bad values fail here
    write_atomically(path, lambda file: np.savez(file, **arrays))


def write_atomically(path, write):
    """Call write(file) on a temporary file beside `path`, then put it in place in one
    `os.replace`: a crash, a kill or an exception mid-write leaves any old file intact."""
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.",
                                             suffix=PARTIAL_SUFFIX)
    except OSError as error:
        raise _save_error(error, path) from error
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)
    except BaseException as error:
        os.unlink(temporary)
        if isinstance(error, OSError):
            raise _save_error(error, path) from error
        raise


def _save_error(error, path):
    """The OSError of a failed save, saying which file and that the old one is untouched."""
    kept = "the previous file was kept" if os.path.exists(path) else "nothing was written"
    return type(error)(error.errno, f"could not save {path}: {error.strerror or error}; {kept}")


def remove_partial_files(directory):
    """Delete the temporary files that saves killed mid-write left in `directory`; -> their
    names. (Only for a directory no other process is saving into at the same moment.)"""
    removed = []
    for partial in sorted(glob.glob(os.path.join(glob.escape(os.fspath(directory)),
                                                 f".*{PARTIAL_SUFFIX}"))):
        os.unlink(partial)
        removed.append(os.path.basename(partial))
    return removed


def load(path):
    """The flat dict name -> ndarray stored in the .npz file `path`.

    Never unpickles: a file holding Python objects, like any file that is not a complete .npz,
    raises CheckpointError naming the file and the problem. All arrays are read (and their
    checksums verified) here, so a corrupt file fails now, not at first use.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"cannot load {path}: it is a directory, not an .npz file")
    with open(path, "rb") as file:              # a missing file: FileNotFoundError, naming it
        start = file.read(6)
    _check_magic(path, start)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = OrderedDict((name, archive[name]) for name in archive.files)
    except ValueError as error:
        if "pickled" in str(error) or "Object arrays" in str(error):
            raise CheckpointError(f"cannot load {path}: it holds pickled Python objects, which "
                                  f"minigrad never unpickles (they can run code); save plain "
                                  f"arrays with minigrad.save") from None
        raise CheckpointError(f"cannot load {path}: the file is corrupt ({error})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise CheckpointError(f"cannot load {path}: the file is truncated or corrupt ({error}); "
                              f"it may have been cut short while it was written") from None
    # np.load gives a member that is not an .npy array as its raw bytes
    not_arrays = [name for name, value in arrays.items() if not isinstance(value, np.ndarray)]
    if not_arrays:
        raise CheckpointError(f"cannot load {path}: its member {not_arrays[0]!r} is not an .npy "
                              f"array, so this is not a state file of minigrad.save")
    return arrays


def _check_magic(path, start):
    if not start:
        raise CheckpointError(f"cannot load {path}: the file is empty")
    if start.startswith(NPY_MAGIC):
        raise CheckpointError(f"cannot load {path}: it is a single .npy array, not an .npz "
                              f"state file (write one with minigrad.save)")
    if not start.startswith(ZIP_MAGIC):
        raise CheckpointError(f"cannot load {path}: it is not an .npz file (it does not start "
                              f"like a zip archive; first bytes {start!r})")


def flatten_state(state, prefix=""):
    """Nested dicts (and lists of dicts) of arrays and numbers -> {dotted name: ndarray}.

    {"state": {0: {"step": 3}}, "param_groups": [{"lr": 0.1}]}
        -> {"state.0.step": array(3), "param_groups.0.lr": array(0.1)}
    Lists and tuples of numbers become one array.
    """
    flat = OrderedDict()
    for key, value in state.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
            value = dict(enumerate(value))
        if isinstance(value, dict):
            flat.update(flatten_state(value, name))
        else:
            flat[name] = _as_array(name, value)
    return flat


def _as_array(name, value):
    array = np.asarray(value)
    if array.dtype.kind not in "biufU":
        raise TypeError(f"cannot save '{name}': expected numbers, arrays or strings, "
                        f"got {type(value).__name__} (dtype {array.dtype})")
    return array


def unflatten_state(flat):
    """The inverse of `flatten_state`: dotted names -> nested dicts. Numeric name parts become
    int keys (optimizers accept {0: group, 1: group} for a list), 0-d arrays Python numbers."""
    nested = {}
    for name, array in flat.items():
        *path, leaf = [int(part) if part.isdigit() else part for part in name.split(".")]
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = array.item() if np.ndim(array) == 0 else array
    return nested


def select(flat, prefix):
    """The entries of a flat dict under `prefix.`, with the prefix removed."""
    start = len(prefix) + 1
    return OrderedDict((name[start:], value) for name, value in flat.items()
                       if name.startswith(prefix + "."))
