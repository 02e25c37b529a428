"""kernels/special.py: erf's twins agree bit for bit, a 0-d array (a scalar's erf) included."""
import math

import numpy as np
import pytest

from minigrad.kernels import special


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_twins_agree_on_every_shape(shape, dtype):
    x = np.asarray(np.random.default_rng(0).standard_normal(shape), dtype=dtype)
    readable, fast = special.erf_numpy(x), special.erf_numba(x)
    assert readable.shape == fast.shape == shape and readable.dtype == fast.dtype == dtype
    np.testing.assert_array_equal(readable, fast)
    np.testing.assert_array_equal(readable, np.vectorize(math.erf)(x.astype(np.float64))
                                  .astype(dtype))
