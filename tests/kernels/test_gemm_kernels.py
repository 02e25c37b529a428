"""kernels/gemm.py: the fast twin's product in parts on threads equals NumPy's product."""
import numpy as np
import pytest

from minigrad import kernels
from minigrad.kernels import gemm
from minigrad.kernels._numba import HAVE_NUMBA
from tests.helpers import leaf


@pytest.mark.skipif(not HAVE_NUMBA, reason="the fast twins are the 'numba' switch's")
@pytest.mark.parametrize("shape_a, shape_b", [((5, 3), (3, 4)), ((4, 2, 3), (4, 3, 2))])
def test_matmul_split_over_two_threads_is_numpys_product(two_threads, monkeypatch, shape_a,
                                                         shape_b):
    # rows of a 2-D product, or the shared first batch axis, computed as two parts
    monkeypatch.setattr(gemm, "MIN_SPLIT_MACS", 0)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    x, y = leaf(a), leaf(b)
    with kernels.use_backend("numba"):
        out = x @ y
        grad = rng.normal(size=out.shape)
        out.backward(grad)
    assert two_threads == [2, 2, 2]                      # forward, dA and dB: each in 2 parts
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-13)
    np.testing.assert_allclose(x.grad, grad @ np.swapaxes(b, -1, -2), rtol=1e-13)
    np.testing.assert_allclose(y.grad, np.swapaxes(a, -1, -2) @ grad, rtol=1e-13)


def test_small_products_and_other_shapes_run_whole(two_threads):
    rng = np.random.default_rng(1)
    for a, b in [((5, 3), (3, 4)), ((3,), (3, 4)), ((2, 5, 3), (3, 4))]:
        a, b = rng.normal(size=a), rng.normal(size=b)
        np.testing.assert_array_equal(gemm.matmul_numba(a, b), a @ b)
    assert two_threads == []
