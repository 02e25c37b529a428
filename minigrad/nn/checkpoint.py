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
"""
import os
import tempfile
from collections import OrderedDict

import numpy as np

from minigrad.nn.module import Module


def save(model_or_state, path):
    """Write a Module's state dict (or any state, see `flatten_state`) to the .npz file `path`.

    Atomic: the arrays go to a temporary file in the same directory, which then replaces `path`
    in one `os.replace`; a crash or an exception mid-write leaves any old file intact.
    """
    state = model_or_state.state_dict() if isinstance(model_or_state, Module) else model_or_state
    arrays = flatten_state(state)  # before any file exists: bad values fail here
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(path):
    """The flat dict name -> ndarray stored in the .npz file `path` (pickles refused)."""
    with np.load(path, allow_pickle=False) as archive:
        return OrderedDict((name, archive[name]) for name in archive.files)


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
