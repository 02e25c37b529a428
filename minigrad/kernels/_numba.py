"""Numba, or a stand-in when it is not installed (the NumPy twins then run everywhere)."""
try:
    import numba
    from numba import njit, prange
    HAVE_NUMBA = True
except ImportError:                                     # pragma: no cover - numba is a dependency
    numba = None
    HAVE_NUMBA = False
    prange = range

    def njit(*args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]
        return lambda f: f
