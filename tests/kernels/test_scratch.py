"""The recycled work buffers of kernels/scratch.py, and the opt-in malloc setting."""
import platform
import subprocess
import sys

import numpy as np

from minigrad.kernels import scratch


def test_take_reuses_what_was_given_back_and_respects_the_limits(monkeypatch):
    monkeypatch.setattr(scratch, "_spare", {})
    monkeypatch.setattr(scratch, "_bytes", 0)
    a = scratch.take((3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.flags.c_contiguous
    scratch.give(a)
    assert scratch.take((3, 4), np.float32) is a          # same shape and dtype: recycled
    assert scratch.take((3, 4), np.float32) is not a      # handed out once only
    scratch.give(a)
    assert scratch.take((3, 4), np.float64) is not a      # another dtype: a new array
    for _ in range(scratch.MAX_SPARE + 2):
        scratch.give(np.empty((2, 2)))
    assert len(scratch._spare[((2, 2), np.dtype(np.float64))]) == scratch.MAX_SPARE
    monkeypatch.setattr(scratch, "MAX_BYTES", 8)
    scratch.clear()
    scratch.give(np.empty(100))                           # over MAX_BYTES: not kept
    assert scratch._bytes == 0 and scratch.take((100,), np.float64).shape == (100,)


def test_keep_freed_memory_is_opt_in_and_reports_success():
    """Process-wide, so it runs in a child process; True on glibc, False where unsupported."""
    code = ("from minigrad.kernels import scratch; r = scratch.keep_freed_memory(); "
            "import numpy as np; a = np.ones(10**6); print(type(r).__name__, r, a.sum())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    glibc = platform.libc_ver()[0] == "glibc"
    assert out.stdout.split() == ["bool", str(glibc), "1000000.0"]


def test_the_pool_counts_its_bytes_and_keeps_no_more_than_max_bytes_in_all(monkeypatch):
    monkeypatch.setattr(scratch, "_spare", {})
    monkeypatch.setattr(scratch, "_bytes", 0)
    monkeypatch.setattr(scratch, "MAX_BYTES", 1000)
    big, small = np.empty(100), np.empty(50)              # 800 and 400 bytes, two shapes
    scratch.give(big)
    assert scratch._bytes == 800
    scratch.give(small)                                   # 1200 > 1000: not kept
    assert scratch._bytes == 800 and scratch.take((50,), np.float64) is not small
    assert scratch.take((100,), np.float64) is big and scratch._bytes == 0
