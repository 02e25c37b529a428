"""Special functions: erf, the error function, which the exact GELU needs (Phi(x), the standard
normal CDF, is (1 + erf(x / sqrt(2))) / 2). NumPy has no erf of its own (SciPy does, and minigrad
does not depend on SciPy).

    erf_numpy(x)   Python's math.erf, value by value (np.frompyfunc): the specification, slow
    erf_numba(x)   the same math.erf, compiled

Both evaluate erf in float64 and round to x's dtype once, so they agree bit for bit; rounding
a float64 erf gives float32 results within half an ulp.
"""
import math

import numpy as np

from minigrad.kernels._numba import njit

_math_erf = np.frompyfunc(math.erf, 1, 1)     # a ufunc over Python floats (object arrays)


def erf_numpy(x):
    """erf of every value of x (float32 or float64), in x's dtype. Readable twin."""
    values = _math_erf(x.astype(np.float64))      # object array; a Python float for 0-d x
    return np.asarray(values, dtype=np.float64).astype(x.dtype)


@njit(cache=True, nogil=True)
def _erf_loop(flat, out):
    for i in range(flat.size):
        out[i] = math.erf(np.float64(flat[i]))     # float64, as the NumPy twin; rounded on store


def erf_numba(x):
    """erf of every value of x (float32 or float64), in x's dtype. Fast twin."""
    out = np.empty(x.shape, x.dtype)          # (np.ascontiguousarray would make a 0-d x 1-d)
    _erf_loop(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out
