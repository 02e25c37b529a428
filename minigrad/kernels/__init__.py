"""The hot loops of minigrad, each written twice: a NumPy twin (the readable specification) and a
Numba twin (the fast one), with the same signature and tested equal.

Which twin runs is one module-level switch:

    MINIGRAD_KERNELS=numpy python train.py        # environment variable, read at import
    minigrad.kernels.set_backend("numpy")         # or at run time
    with minigrad.kernels.use_backend("numpy"):   # or for one block
        ...

The default is "numba" (falls back to "numpy" when Numba is not installed). The functions below
(`conv2d_forward`, `matmul`, `im2col`, `max_pool2d_forward`, `erf` ...) dispatch to the selected
twin. (The dispatcher `minigrad.kernels.im2col` hides the submodule of the same name as a package
attribute; reach the twins with `importlib.import_module("minigrad.kernels.im2col")`.)

Every speed trick of minigrad lives behind this door, in the fast twins; the ops above hold only
the math. `kernels/scratch.py` is not a kernel: a small pool of recycled work buffers (conv2d's
`cols`, `dcols`, ...) that saves the OS from zero-filling fresh pages every step. Nor is
`kernels/parallel.py`: it runs a kernel's work on parts of the batch on Python threads at once,
which is how minigrad uses a second core, with OpenBLAS held at one thread while the fast twins
that run GEMMs (conv2d, matmul) work.

Each Numba loop is serial and compiled `nogil=True`: the second core comes from running it on
two parts of the batch at once (`parallel`), not from Numba's own threads, which fought
OpenBLAS's threads for the cores (benchmarks/README.md, "Why the code is the way it is").
"""
import contextlib
import glob
import os

from minigrad.kernels._numba import HAVE_NUMBA, numba
from minigrad.kernels import activation as _activation
from minigrad.kernels import bcos as _bcos
from minigrad.kernels import conv as _conv
from minigrad.kernels import gemm as _gemm
from minigrad.kernels import im2col as _im2col
from minigrad.kernels import norm as _norm
from minigrad.kernels import pool as _pool
from minigrad.kernels import special as _special
from minigrad.kernels.im2col import Geometry

BACKENDS = ("numpy", "numba")
_backend = None


def set_backend(name):
    """Select the kernel twin: 'numpy' or 'numba'."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"kernel backend must be one of {BACKENDS}, got {name!r}")
    if name == "numba" and not HAVE_NUMBA:
        raise ValueError("kernel backend 'numba' requested but numba is not installed")
    _backend = name


def get_backend():
    """The name of the kernel twin in use."""
    return _backend


@contextlib.contextmanager
def use_backend(name):
    """Run a block with the given kernel twin, then restore the previous one."""
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


set_backend(os.environ.get("MINIGRAD_KERNELS", "numba" if HAVE_NUMBA else "numpy").lower())


_calls = None       # a list while inside `recorded()`, else None


@contextlib.contextmanager
def recorded():
    """Within the block, list every kernel call as (kernel, twin): the proof, in tests, of which
    twin really ran.

        with kernels.use_backend("numpy"), kernels.recorded() as calls:
            conv2d(x, w)
        assert calls == [("conv2d_forward", "numpy")]
    """
    global _calls
    previous, _calls = _calls, []
    try:
        yield _calls
    finally:
        _calls = previous


def _twin(module, name, backend=None):
    twin = getattr(module, f"{name}_{backend or _backend}")
    if _calls is not None:          # the twin's own name says which one runs
        _calls.append(tuple(twin.__name__.rsplit("_", 1)))
    return twin


# ----- dispatchers (same signatures as the twins; see conv.py, gemm.py, im2col.py ...) --------
def conv2d_forward(x, weight, bias, geometry, groups, keep_cols):
    """-> (y, saved): `saved` also names the twin, as each keeps its `cols` in a form of its own
    and the same twin must run the backward (the switch may change in between)."""
    y, cols = _twin(_conv, "conv2d_forward")(x, weight, bias, geometry, groups, keep_cols)
    return y, (_backend, cols)


def conv2d_backward(grad, saved, weight, x_shape, geometry, groups, needs_input_grad):
    backend, cols = saved
    return _twin(_conv, "conv2d_backward", backend)(grad, cols, weight, tuple(x_shape), geometry,
                                                    groups, needs_input_grad)


def bcos_conv2d_forward(x, weight, geometry, units, b, eps, encoded):
    """-> (out, saved), `saved` naming its twin as conv2d_forward's does."""
    out, saved = _twin(_bcos, "bcos_conv2d_forward")(x, weight, geometry, units, b, eps,
                                                     encoded)
    return out, (_backend, saved)


def bcos_conv2d_backward(grad, saved, weight, x_shape, geometry, units, b, detach,
                         needs_input_grad, encoded):
    backend, saved = saved
    return _twin(_bcos, "bcos_conv2d_backward", backend)(grad, saved, weight, tuple(x_shape),
                                                         geometry, units, b, detach,
                                                         needs_input_grad, encoded)


def bcos_linear_forward(x, weight, units, b, eps):
    """-> (out, saved), `saved` naming its twin as conv2d_forward's does."""
    out, saved = _twin(_bcos, "bcos_linear_forward")(x, weight, units, b, eps)
    return out, (_backend, saved)


def bcos_linear_backward(grad, saved, weight, units, b, detach, needs_input_grad):
    backend, saved = saved
    return _twin(_bcos, "bcos_linear_backward", backend)(grad, saved, weight, units, b, detach,
                                                         needs_input_grad)


def matmul(a, b):
    return _twin(_gemm, "matmul")(a, b)


def im2col(x, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    return _twin(_im2col, "im2col")(x, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW)


def col2im(cols, x_shape, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    return _twin(_im2col, "col2im")(cols, tuple(x_shape), KH, KW, OH, OW, SH, SW, PH, PW, DH, DW)


def max_pool2d_forward(x, KH, KW, OH, OW, SH, SW, PH, PW):
    return _twin(_pool, "max_pool2d_forward")(x, KH, KW, OH, OW, SH, SW, PH, PW)


def max_pool2d_backward(dout, arg, x_shape, KH, KW, OH, OW, SH, SW, PH, PW):
    return _twin(_pool, "max_pool2d_backward")(dout, arg, tuple(x_shape), KH, KW, OH, OW, SH, SW,
                                               PH, PW)


def max_pool2d_winners(arg, x_shape, KH, KW, OH, OW, SH, SW, PH, PW):
    """Max pooling's winners as flat indices h*W + w in their planes (one NumPy function: no
    hot loop)."""
    return _pool.max_pool2d_winners(arg, tuple(x_shape), KH, KW, OH, OW, SH, SW, PH, PW)


def avg_pool2d_forward(x, KH, KW, OH, OW, SH, SW, PH, PW, count_include_pad):
    return _twin(_pool, "avg_pool2d_forward")(x, KH, KW, OH, OW, SH, SW, PH, PW,
                                              bool(count_include_pad))


def avg_pool2d_backward(dout, x_shape, KH, KW, OH, OW, SH, SW, PH, PW, count_include_pad):
    return _twin(_pool, "avg_pool2d_backward")(dout, tuple(x_shape), KH, KW, OH, OW, SH, SW,
                                               PH, PW, bool(count_include_pad))


def erf(x):
    return _twin(_special, "erf")(x)


def relu_forward(x):
    return _twin(_activation, "relu_forward")(x)


def relu_backward(grad, positive):
    return _twin(_activation, "relu_backward")(grad, positive)


def channel_moments(x):
    return _twin(_norm, "channel_moments")(x)


def scale_channels(x, scale):
    return _twin(_norm, "scale_channels")(x, scale)


def uncentered_norm_backward(grad, x, mu, scale, inv_std, through_var, need_x):
    return _twin(_norm, "uncentered_norm_backward")(grad, x, mu, scale, inv_std, through_var,
                                                    need_x)


def uncached_kernels():
    """Names of the Numba kernels with no compiled copy in Numba's cache (`cache=True`) yet: the
    first run compiles them, a few seconds once per install, then loads them from the cache."""
    if not HAVE_NUMBA or _backend != "numba":
        return []
    missing = []
    for module in (_im2col, _pool, _special, _bcos, _conv, _norm, _activation):   # gemm: none
        for name, kernel in vars(module).items():
            if isinstance(kernel, numba.core.dispatcher.Dispatcher):
                index = os.path.join(glob.escape(kernel.stats.cache_path),
                                     f"*.{kernel.py_func.__qualname__}-*.nbi")
                if not glob.glob(index):
                    missing.append(name)
    return missing
