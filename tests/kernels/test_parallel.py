"""kernels/parallel.py: batch parts on threads, with NumPy's BLAS held at one thread meanwhile."""
import os
import threading

import numpy as np
import pytest

from minigrad import functional as F
from minigrad.function import Function
from minigrad.kernels import parallel
from minigrad.tensor import Tensor

needs_openblas = pytest.mark.skipif(parallel._blas is None,
                                    reason="NumPy's BLAS is not an OpenBLAS minigrad can find")


def test_split_covers_the_batch_in_near_equal_parts(two_threads):
    assert parallel.split(7) == [slice(0, 3), slice(3, 7)]
    assert parallel.split(1) == [slice(0, 1)]                  # nothing to split
    parallel.set_num_threads(3)
    assert parallel.split(8) == [slice(0, 2), slice(2, 5), slice(5, 8)]


def test_small_jobs_and_one_thread_are_not_split(monkeypatch):
    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        monkeypatch.setattr(parallel, "MIN_ELEMENTS", 100)
        assert parallel.split(64, elements=99) == [slice(0, 64)]
        assert len(parallel.split(64, elements=100)) == (2 if parallel._blas else 1)
        parallel.set_num_threads(1)
        assert parallel.split(64, elements=10 ** 6) == [slice(0, 64)]
    finally:
        parallel.set_num_threads(before)
    with pytest.raises(ValueError, match="positive int"):
        parallel.set_num_threads(0)


@needs_openblas
def test_parts_run_on_their_own_threads_with_blas_held_at_one(two_threads):
    parallel._blas[1](2)
    seen = []

    def work(part, label):
        seen.append((part, label, threading.get_ident(), parallel._blas[0]()))
        return label * 10

    parts = parallel.split(10)
    assert parallel.map(work, parts, [1, 2]) == [10, 20]                # in the parts' order
    assert sorted((p.start, label) for p, label, _, _ in seen) == [(0, 1), (5, 2)]
    assert len({thread for _, _, thread, _ in seen}) == 2
    assert {blas for *_, blas in seen} == {1}
    assert parallel._blas[0]() == 2                                     # restored afterwards


@needs_openblas
def test_a_failing_part_raises_after_every_part_is_done_and_blas_is_restored(two_threads):
    parallel._blas[1](2)
    finished = []

    def work(part):
        if part.start == 0:
            raise RuntimeError("part 0 failed")
        finished.append(part)

    with pytest.raises(RuntimeError, match="part 0 failed"):
        parallel.map(work, parallel.split(4))
    assert finished == [slice(2, 4)] and parallel._blas[0]() == 2


@needs_openblas
def test_a_part_does_not_split_again(two_threads):
    inner = []
    parallel.map(lambda part: inner.append(parallel.split(part.stop - part.start)),
                 parallel.split(8))
    assert inner == [[slice(0, 4)], [slice(0, 4)]]


@needs_openblas
def test_matmul_on_parts_equals_the_whole(two_threads):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((6, 40)), rng.standard_normal((40, 9))
    out = np.empty((6, 9))

    def rows(part):
        np.matmul(a[part], b, out=out[part])
    parallel.map(rows, parallel.split(6))
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


@needs_openblas
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")
def test_a_forked_child_splits_with_threads_of_its_own(two_threads):
    parallel.map(lambda part: None, parallel.split(4))         # the parent's worker now exists
    pid = os.fork()
    if pid == 0:                                                # the child: would hang without
        code = 1                                                # a pool of its own
        try:
            out = np.zeros(4)

            def fill(part):
                out[part] = part.start + 1
            parallel.map(fill, parallel.split(4))
            code = 0 if out.tolist() == [1, 1, 3, 3] else 1
        finally:
            os._exit(code)
    for _ in range(1000):                                       # at most ~10 s
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        threading.Event().wait(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in parallel.map")
    assert os.waitstatus_to_exitcode(status) == 0


class _RecordBlasThreads(Function):
    """An op that records how many threads NumPy's BLAS has in its forward and its backward."""
    seen = []

    def forward(self, x):
        self.seen.append(("forward", parallel._blas[0]()))
        return x * 2

    def backward(self, grad):
        self.seen.append(("backward", parallel._blas[0]()))
        return grad * 2


@needs_openblas
def test_the_engine_leaves_blas_alone(two_threads):
    """Holding BLAS is the fast twins' business (below): an op that runs no GEMM of minigrad's
    kernels sees the user's setting, in forward and in backward."""
    parallel._blas[1](2)
    _RecordBlasThreads.seen = []
    x = Tensor(np.ones(3), requires_grad=True)
    _RecordBlasThreads.apply(x).sum().backward()
    assert _RecordBlasThreads.seen == [("forward", 2), ("backward", 2)]
    assert np.array_equal(x.grad, [2, 2, 2])


@needs_openblas
@pytest.mark.parametrize("op", ["conv2d", "matmul"])
def test_the_fast_twins_that_run_gemms_hold_blas_at_one_thread(two_threads, monkeypatch, op):
    """Also when the job is not split (a batch of one): OpenBLAS's own threads would spin
    beside minigrad's parts after it (parallel.blas_held); restored afterwards."""
    from minigrad import kernels
    from minigrad.kernels import gemm
    parallel._blas[1](2)
    seen, real_map = [], parallel.map
    monkeypatch.setattr(parallel, "map", lambda work, parts, *per_part: seen.append(
        (len(parts), parallel._blas[0]())) or real_map(work, parts, *per_part))
    monkeypatch.setattr(gemm, "MIN_SPLIT_MACS", 0)
    x = Tensor(np.ones((1, 2, 5, 5) if op == "conv2d" else (1, 6)), requires_grad=True)
    w = Tensor(np.ones((3, 2, 3, 3) if op == "conv2d" else (6, 4)), requires_grad=True)
    with kernels.use_backend("numba"):
        y = F.conv2d(x, w) if op == "conv2d" else x @ w
        y.sum().backward()
    assert (1, 1) in seen                           # a product of one part, BLAS held at one
    assert {blas for _, blas in seen} == {1}
    assert parallel._blas[0]() == 2


@needs_openblas
def test_with_one_minigrad_thread_blas_is_left_as_the_user_set_it():
    from minigrad import kernels
    before = parallel.get_num_threads()
    parallel.set_num_threads(1)
    parallel._blas[1](2)
    try:
        with kernels.use_backend("numba"), parallel.blas_held():
            assert parallel._blas[0]() == 2
    finally:
        parallel.set_num_threads(before)


@needs_openblas
def test_held_blocks_nest_and_only_the_outermost_restores(two_threads):
    parallel._blas[1](2)
    with parallel.blas_held():
        with parallel.blas_held():
            assert parallel._blas[0]() == 1
        assert parallel._blas[0]() == 1                 # the inner block did not restore it
        with pytest.raises(RuntimeError):
            with parallel.blas_held():
                raise RuntimeError("an op failed")
        assert parallel._blas[0]() == 1
    assert parallel._blas[0]() == 2
