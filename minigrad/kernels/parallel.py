"""The second core: split a batch into parts and work on the parts on Python threads at once.

The samples of a batch are independent in a convolution or a pooling layer, so such an op can
run its work on each part of the batch on a thread of its own:

    y = np.empty(...)
    def work(part):                     # part: a slice of the batch axis
        y[part] = ...                   # fill this part's rows only
    parts = parallel.split(N, y.size)   # [slice(0, N // 2), slice(N // 2, N)] with two threads
    parallel.map(work, parts)           # on threads at once; -> [work(part) for part in parts]

This pays because the heavy work inside `work` releases Python's GIL: the Numba kernels are
compiled with `nogil=True`, and NumPy releases it in matmul and in its copy loops. While
minigrad computes (every op's forward, a whole backward pass), NumPy's BLAS (OpenBLAS) is held
at one thread (`blas_held`), so that each part's GEMM runs on its own core: not four BLAS
threads on two cores, and no idle OpenBLAS thread spinning on the core a part needs. Why
threads over the batch and not Numba's `prange` or OpenBLAS's own threads: benchmarks/README.md,
"Why the code is the way it is".

The number of threads is that of NumPy's BLAS when minigrad is imported (so
`OPENBLAS_NUM_THREADS=1` makes minigrad single-threaded too), at most the CPUs this process may
use; `set_num_threads(n)` changes it. Where NumPy's BLAS is not an OpenBLAS minigrad can find,
nothing is split.
"""
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

MIN_ELEMENTS = 2 ** 15      # smaller jobs run whole: handing a part to a thread has a cost


def _find_openblas():
    """(get_num_threads, set_num_threads) of the OpenBLAS that NumPy loaded, or None."""
    numpy_dir = Path(np.__file__).parent
    paths = [*numpy_dir.parent.glob("numpy.libs/*openblas*"), *numpy_dir.glob(".dylibs/*openblas*")]
    if Path("/proc/self/maps").exists():            # Linux: whatever openblas is mapped
        lines = Path("/proc/self/maps").read_text().splitlines()
        paths += sorted({line.split()[-1] for line in lines if "openblas" in line.lower()})
    for path in paths:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""),
                               ("openblas", "64_"), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


_blas = _find_openblas()
_lock = threading.Lock()            # one parallel section at a time (the BLAS setting is global)
_inside = threading.local()         # set in a thread that is running a part: no nesting
_pool = None
_threads = 1


def set_num_threads(n):
    """Use up to n threads (parts of a batch) per op; 1 turns the splitting off. (Without an
    OpenBLAS to hold at one thread, always 1.)"""
    global _threads, _pool
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _threads = n if _blas is not None else 1
    _pool = ThreadPoolExecutor(_threads - 1, "minigrad") if _threads > 1 else None


def get_num_threads():
    """How many parts a big enough batch is split into (1: none)."""
    return _threads


def split(N, elements=None, minimum=None):
    """The parts of a batch of N samples: `get_num_threads()` slices of range(N), as equal as
    can be, or one slice when the job is small (`elements`, e.g. the size of its output, below
    `minimum`, by default MIN_ELEMENTS) or when already running inside a part."""
    small = elements is not None and elements < (MIN_ELEMENTS if minimum is None else minimum)
    parts = 1 if small or getattr(_inside, "flag", False) else max(1, min(_threads, N))
    bounds = [N * i // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class blas_held:
    """`with blas_held():` -- NumPy's BLAS at one thread while minigrad computes with threads
    of its own (more than one); restored when the outermost such block ends. Blocks nest: the
    fast twins that run GEMMs (kernels/conv.py, kernels/gemm.py) hold it once per call, and `map`
    holds it again inside them.

    Why not let OpenBLAS thread the GEMMs that minigrad does not split: after a threaded GEMM,
    OpenBLAS's worker thread keeps spinning on the other core for a while, waiting for more
    work, and takes that core from minigrad's second part (benchmarks/README.md, "why the halves
    did not overlap"; `benchmarks/bench_spin.py` measures it)."""

    def __enter__(self):
        self.held = _threads > 1
        if self.held:
            _change_hold(+1)

    def __exit__(self, *exc):
        if self.held:
            _change_hold(-1)
        return False


_hold_mutex = threading.Lock()
_hold_depth = 0
_blas_before = None


def _change_hold(step):
    global _hold_depth, _blas_before
    with _hold_mutex:
        if _hold_depth == 0:
            _blas_before = _blas[0]()
            _blas[1](1)
        _hold_depth += step
        if _hold_depth == 0:
            _blas[1](_blas_before)


def map(work, parts, *per_part):
    """[work(part, *args) for part, args in zip(parts, *per_part)], each part on its own thread
    (the first on the calling one); with a single part, just that call, BLAS left as it is."""
    calls = list(zip(parts, *per_part))
    if len(calls) == 1:
        return [work(*calls[0])]
    with _lock, blas_held():
        futures = [_pool.submit(_run_part, work, call) for call in calls[1:]]
        try:
            results = [_run_part(work, calls[0])]
        finally:
            wait(futures)                # never leave a part running past the BLAS setting
        return results + [future.result() for future in futures]


def _start_afresh_after_fork():
    """A forked child has none of its parent's threads (its copy of the pool would wait forever
    for a worker that is not there): give it a pool and a lock of its own."""
    global _lock, _hold_mutex
    _lock, _hold_mutex = threading.Lock(), threading.Lock()
    set_num_threads(_threads)


def _run_part(work, call):
    _inside.flag = True
    try:
        return work(*call)
    finally:
        _inside.flag = False


set_num_threads(max(1, min(_blas[0]() if _blas else 1, len(os.sched_getaffinity(0))
                           if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_start_afresh_after_fork)
