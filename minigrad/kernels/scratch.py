"""Recycled work buffers for the big temporaries of convolution (`cols`, `dcols`, ...).

A freshly allocated large array costs a page fault every 4 KiB while the OS zero-fills it, and
conv2d's work buffers have the same shapes step after step, so they are taken from and given back
to this small pool instead (the measurement: benchmarks/README.md, "Why the code is the way it
is"):

    cols = scratch.take(shape, dtype)     # a spare array of that shape, or a new np.empty
    ...                                   # use it
    scratch.give(cols)                    # done with it: the next take() of that shape reuses it

Only buffers that never leave an op are recycled (a Function's saved `cols` is given back in its
`release()`, after backward); arrays handed to the caller are always new. The pool keeps at most
MAX_SPARE buffers per shape and MAX_BYTES in all, so it cannot grow without bound.
"""
import os
import threading

import numpy as np

MAX_SPARE = 4                   # spare buffers kept per (shape, dtype): two parts of a batch
MAX_BYTES = 512 * 2 ** 20       # and in all
_spare = {}                     # (shape, dtype) -> list of free arrays
_bytes = 0
_lock = threading.Lock()        # the parts of a batch take and give on threads at once


def take(shape, dtype):
    """An uninitialised C-contiguous array of `shape` and `dtype`: recycled if one is spare."""
    global _bytes
    with _lock:
        free = _spare.get((tuple(shape), np.dtype(dtype)))
        if not free:
            return np.empty(shape, dtype)
        array = free.pop()
        _bytes -= array.nbytes
        return array


def give(array):
    """Hand a buffer back for reuse; the caller must not touch it afterwards. Returns None."""
    global _bytes
    with _lock:
        free = _spare.setdefault((array.shape, array.dtype), [])
        if len(free) < MAX_SPARE and _bytes + array.nbytes <= MAX_BYTES:
            free.append(array)
            _bytes += array.nbytes


def clear():
    """Drop every spare buffer (frees the memory)."""
    global _bytes
    with _lock:
        _spare.clear()
        _bytes = 0


GLIBC_DEFAULT = 128 * 2 ** 10   # glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD before any change


def keep_freed_memory(mmap_threshold=32 * 2 ** 20, trim_threshold=256 * 2 ** 20):
    """Ask glibc's malloc to keep freed memory for reuse (process-wide; the library's default).

    The scratch pool above covers conv's internal buffers only; every op's output is still a new
    array, and glibc serves big ones as fresh pages from the OS, which zero-fills each on first
    touch (page faults every step: benchmarks/README.md, #29). With arrays up to `mmap_threshold`
    served from the heap and up to `trim_threshold` of free memory kept, a training step reuses
    the previous step's pages; the price is that the process keeps up to that much freed memory
    instead of returning it to the OS (its peak stays the same). Same as the environment
    variables MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_. Returns False (and does
    nothing) where there is no glibc `mallopt` (macOS, Windows, musl).

    Called when minigrad is imported (below), so that a learner's own loop runs as fast as
    `minigrad train`; MINIGRAD_KEEP_FREED_MEMORY=0 in the environment (or a MALLOC_* setting
    of one's own) leaves malloc untouched, `return_freed_memory()` turns it off later.
    Figures: benchmarks/README.md (#29).
    """
    return _mallopt(mmap_threshold, trim_threshold)


def return_freed_memory():
    """Undo keep_freed_memory(): glibc's default thresholds again, so freed memory goes back to
    the OS. (glibc's own adaptive threshold, off since any setting, stays off: for the untouched
    allocator start the process with MINIGRAD_KEEP_FREED_MEMORY=0.) False where unsupported."""
    return _mallopt(GLIBC_DEFAULT, GLIBC_DEFAULT)


def _mallopt(mmap_threshold, trim_threshold):
    import ctypes
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):     # no mallopt; Windows: no CDLL(None)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3                 # from glibc's <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))
                and mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))


def _malloc_left_alone():
    """True when the environment says so, or already tunes malloc itself (then it is theirs)."""
    return (os.environ.get("MINIGRAD_KEEP_FREED_MEMORY") == "0"
            or any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_",
                                                   "MALLOC_TRIM_THRESHOLD_"))
            or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""))


# Why a library sets a process-wide policy by default: without it a hand-written training loop
# ran far slower than the same steps in `minigrad train` (benchmarks/README.md, #29), and the
# cost (freed memory kept, not the peak) is small next to a training process's own.
if not _malloc_left_alone():
    keep_freed_memory()
