"""Recycled work buffers for the big temporaries of convolution (`cols`, `dcols`, ...).

Why: a freshly allocated large array is not free. glibc hands big allocations out as fresh pages
from the OS, and the OS zeroes every page on its first touch - so an im2col into a new 5 MB array
pays for writing it twice, plus a page fault every 4 KiB. Measured on the 2-core machine, a
LeNet-5 training step (batch 64) took 10.8 ms with fresh arrays and 5.9 ms when malloc was told
to keep its memory (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_): almost half of the step was
the OS preparing pages. The work buffers of conv2d have the same shapes step after step, so they
are taken from and given back to this small pool instead:

    cols = scratch.take(shape, dtype)     # a spare array of that shape, or a new np.empty
    ...                                   # use it
    scratch.give(cols)                    # done with it: the next take() of that shape reuses it

Only buffers that never leave an op are recycled (a Function's saved `cols` is given back in its
`release()`, after backward); arrays handed to the caller are always new. The pool keeps at most
MAX_SPARE buffers per shape and MAX_BYTES in all, so it cannot grow without bound.
"""
import numpy as np

MAX_SPARE = 2                   # spare buffers kept per (shape, dtype)
MAX_BYTES = 512 * 2 ** 20       # and in all
_spare = {}                     # (shape, dtype) -> list of free arrays
_bytes = 0


def take(shape, dtype):
    """An uninitialised C-contiguous array of `shape` and `dtype`: recycled if one is spare."""
    global _bytes
    try:
        array = _spare[(tuple(shape), np.dtype(dtype))].pop()
    except (KeyError, IndexError):
        return np.empty(shape, dtype)
    _bytes -= array.nbytes
    return array


def give(array):
    """Hand a buffer back for reuse; the caller must not touch it afterwards. Returns None."""
    global _bytes
    free = _spare.setdefault((array.shape, array.dtype), [])
    if len(free) < MAX_SPARE and _bytes + array.nbytes <= MAX_BYTES:
        free.append(array)
        _bytes += array.nbytes


def clear():
    """Drop every spare buffer (frees the memory)."""
    global _bytes
    _spare.clear()
    _bytes = 0


def keep_freed_memory(mmap_threshold=32 * 2 ** 20, trim_threshold=256 * 2 ** 20):
    """Opt-in (process-wide): ask glibc's malloc to keep freed memory for reuse.

    The scratch pool above only covers conv's internal buffers; every op's output is still a new
    array. glibc serves arrays above M_MMAP_THRESHOLD (128 KiB to start with) as fresh pages from
    the OS and gives the top of its heap back above M_TRIM_THRESHOLD, so each training step pays
    again for the OS zeroing the same megabytes (~1,400 page faults per LeNet-5 step at batch
    64). With arrays up to `mmap_threshold` served from the heap and up to `trim_threshold` of
    free memory kept, the step reuses the previous step's pages. The price: the process keeps
    that memory instead of returning it to the OS. Same as the environment variables
    MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_. Returns False (and does nothing) where
    there is no glibc `mallopt` (macOS, Windows, musl). The library never calls it by itself;
    `minigrad train` does (`--no-keep-freed-memory` to compare), as do the training examples.
    """
    import ctypes
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3                 # from glibc's <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))
                and mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))
