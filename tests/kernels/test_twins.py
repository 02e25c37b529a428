"""The twins are two programs, not one under two names: each Numba twin runs compiled code (but
gemm's, which splits NumPy's product over threads), each NumPy twin none, and the switch runs the
twin it names.

Every compiled (Numba) function of a kernel module is replaced by a spy that notes the call and
runs it, so a test sees which code really ran: a Numba twin that quietly called its NumPy twin,
or a switch that always picked one backend, would fail here.
"""
import importlib
import pkgutil

import numpy as np
import pytest

import minigrad.kernels as kernels
from minigrad.kernels._numba import HAVE_NUMBA, numba
from minigrad.ops.conv import conv_geometry

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")

KERNEL_MODULES = [importlib.import_module(f"minigrad.kernels.{info.name}")
                  for info in pkgutil.iter_modules(kernels.__path__)
                  if not info.name.startswith("_") and info.name != "scratch"]


def twins():
    """{kernel name: its module} for every kernel that has a NumPy and a Numba twin."""
    return {name[:-len("_numba")]: module for module in KERNEL_MODULES for name in vars(module)
            if name.endswith("_numba") and hasattr(module, name[:-len("_numba")] + "_numpy")}


def arguments():
    """One call of every kernel: a (2, 3, 5, 6) input, conv and pool geometries with padding.
    (conv2d's backward without dW here: each twin keeps `cols` for dW in a form of its own, so
    tests/kernels/test_conv_kernels.py runs each twin's backward after its own forward.)"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    geometry = conv_geometry(x.shape, (3, 2), (1, 2), (1, 1, 1, 0), (1, 1))
    conv = tuple(geometry)
    w = rng.standard_normal((4, 3, 3, 2))
    dy = rng.standard_normal((2, 4, conv[2], conv[3]))
    pool = (3, 2, 3, 3, 2, 2, 1, 0)                     # KH KW OH OW SH SW PH PW
    cols = rng.standard_normal((3 * 3 * 2, 2 * conv[2] * conv[3]))
    dout = rng.standard_normal((2, 3, 3, 3))
    arg = kernels.max_pool2d_forward(x, *pool)[1]
    return {"im2col": (x, *conv), "col2im": (cols, x.shape, *conv),
            "max_pool2d_forward": (x, *pool), "max_pool2d_backward": (dout, arg, x.shape, *pool),
            "avg_pool2d_forward": (x, *pool, False),
            "avg_pool2d_backward": (dout, x.shape, *pool, True),
            "erf": (x.astype(np.float32),),
            "relu_forward": (x,), "relu_backward": (dout, dout > 0),
            "conv2d_forward": (x, w, w[:, 0, 0, 0], geometry, 1, False),
            "conv2d_backward": (dy, None, w, x.shape, geometry, 1, (True, False, True)),
            "bcos_conv2d_forward": (x, w, geometry, 2, 2.0, 1e-6, False),
            "bcos_conv2d_backward": lambda twin: (
                dy[:, :2], getattr(kernels.bcos, f"bcos_conv2d_forward_{twin}")(
                    x, w, geometry, 2, 2.0, 1e-6, False)[1], w, x.shape, geometry, 2, 2.0,
                False, (True, True), False),
            "bcos_linear_forward": (x[0, 0], w.reshape(4, -1)[:, :6], 2, 2.0, 1e-6),
            "bcos_linear_backward": lambda twin: (      # x (5, 6), w (2 * 2, 6), dy (5, 2)
                x[1, 0, :, :2], getattr(kernels.bcos, f"bcos_linear_forward_{twin}")(
                    x[0, 0], w.reshape(4, -1)[:, :6], 2, 2.0, 1e-6)[1], w.reshape(4, -1)[:, :6],
                2, 2.0, False, (True, True)),
            "channel_moments": (x,), "scale_channels": (x, w[:3, 0, 0, 0]),
            "uncentered_norm_backward": (dout, x[:, :, :3, :3], *rng.random((3, 3)), True, True),
            "matmul": (x, rng.standard_normal((6, 4)))}


def twin_arguments(name, twin):
    """The arguments of one twin: a B-cos backward takes what its own twin's forward saved."""
    args = CALLS[name]
    return args(twin) if callable(args) else args


NOT_COMPILED = {"matmul"}      # the fast twin is NumPy's own product, in parts on threads
SUMS_IN_FLOAT64 = {"channel_moments", "uncentered_norm_backward"}


def dispatcher_arguments(name, backend):
    """The dispatcher's arguments for the twin's: a backward's saved state names its twin."""
    if name not in ("conv2d_backward", "bcos_conv2d_backward", "bcos_linear_backward"):
        return CALLS[name]
    grad, cols, *rest = twin_arguments(name, backend)
    return (grad, (backend, cols), *rest)


CALLS = arguments()


@needs_numba
def test_every_twin_is_checked_here():
    assert set(twins()) == set(CALLS)


@pytest.fixture
def compiled_calls(monkeypatch):
    """Spy on every Numba function of the kernel modules; -> the list of their calls."""
    for name in CALLS:                               # compile first: a spy cannot be compiled
        getattr(twins()[name], f"{name}_numba")(*twin_arguments(name, "numba"))
    calls = []
    for module in KERNEL_MODULES:
        for name, function in list(vars(module).items()):
            if isinstance(function, numba.core.dispatcher.Dispatcher):
                monkeypatch.setattr(module, name, spy(function, name, calls))
    return calls


def spy(function, name, calls):
    def run(*args, **kwargs):
        calls.append(name)
        return function(*args, **kwargs)
    return run


@needs_numba
@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_numba_twin_runs_compiled_code_and_the_numpy_twin_none(name, compiled_calls):
    module = twins()[name]
    expected = getattr(module, f"{name}_numpy")(*twin_arguments(name, "numpy"))
    assert compiled_calls == [], f"{name}_numpy ran compiled code {compiled_calls}"
    result = getattr(module, f"{name}_numba")(*twin_arguments(name, "numba"))
    assert bool(compiled_calls) == (name not in NOT_COMPILED), f"{name}_numba: {compiled_calls}"
    if name.startswith("bcos_") and name.endswith("_forward"):    # each twin saves in its own form
        result, expected = result[0], expected[0]
    for a, b in zip(*[r if isinstance(r, tuple) else (r,) for r in (result, expected)]):
        assert (a is None) == (b is None)
        if a is None:
            continue
        if "conv2d" in name or "bcos" in name or name in SUMS_IN_FLOAT64:
            # the same sums in another order (test_conv_kernels, test_norm_kernels)
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(a, b)


@needs_numba
@pytest.mark.parametrize("backend", kernels.BACKENDS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_switch_runs_the_twin_it_names(name, backend, compiled_calls):
    with kernels.use_backend(backend), kernels.recorded() as recorded:
        getattr(kernels, name)(*dispatcher_arguments(name, backend))
    assert recorded == [(name, backend)]
    assert bool(compiled_calls) == (backend == "numba" and name not in NOT_COMPILED), compiled_calls


def test_without_numba_only_the_numpy_twins_can_be_chosen(monkeypatch):
    monkeypatch.setattr(kernels, "_backend", kernels.get_backend())      # restored afterwards
    monkeypatch.setattr(kernels, "HAVE_NUMBA", False)
    kernels.set_backend("numpy")
    with pytest.raises(ValueError, match="'numba' requested but numba is not installed"):
        kernels.set_backend("numba")
    assert kernels.get_backend() == "numpy"
