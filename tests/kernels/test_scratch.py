"""The recycled work buffers of kernels/scratch.py, and the malloc setting minigrad makes."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

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


def test_keep_freed_memory_and_its_undo_report_success():
    """Process-wide, so it runs in a child process; True on glibc, False where unsupported."""
    code = ("from minigrad.kernels import scratch; r = scratch.keep_freed_memory(); "
            "u = scratch.return_freed_memory(); import numpy as np; a = np.ones(10**6); "
            "print(type(r).__name__, r, u, a.sum())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    glibc = str(platform.libc_ver()[0] == "glibc")
    assert out.stdout.split() == ["bool", glibc, glibc, "1000000.0"]


# In a child process: resident MB after an 8 MB array is filled, and after it is freed.
KEPT_OR_RETURNED = """
import numpy as np, minigrad
def rss_mb():
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1024
a = np.ones(2 ** 20)
filled = rss_mb()
del a
print(filled, rss_mb())
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt and /proc only")
@pytest.mark.parametrize("environment, kept", [({}, True),
                                               ({"MINIGRAD_KEEP_FREED_MEMORY": "0"}, False),
                                               ({"MALLOC_MMAP_THRESHOLD_": "131072"}, False)])
def test_importing_minigrad_keeps_freed_memory_unless_the_environment_chose(environment, kept):
    """The library's default (#29): freed arrays stay in the process for the next step; left
    alone when the environment says so or sets malloc up itself."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("MINIGRAD_KEEP_FREED_MEMORY", "MALLOC_MMAP_THRESHOLD_",
                           "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", KEPT_OR_RETURNED], capture_output=True,
                         text=True, check=True, env={**env, **environment})
    filled, freed = map(float, out.stdout.split())
    assert (filled - freed < 4) == kept, (filled, freed)     # 8 MB kept, or given back


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
