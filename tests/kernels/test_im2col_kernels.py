"""im2col / col2im: the NumPy twin against its definition, the Numba twin against the NumPy one."""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from minigrad import kernels

# the package's `im2col` is the dispatcher function; the twins live in the submodule
K = importlib.import_module("minigrad.kernels.im2col")


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def geometries(draw):
    """(x shape, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW) with at least one output pixel."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    KH, KW, SH, SW = (draw(st.integers(1, 4)) for _ in range(4))
    PH, PW = draw(st.integers(0, 4)), draw(st.integers(0, 4))    # padding may exceed the kernel
    DH, DW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    OH, OW = out_size(H, KH, SH, PH, DH), out_size(W, KW, SW, PW, DW)
    assume(OH >= 1 and OW >= 1)
    return (N, C, H, W), (KH, KW, OH, OW, SH, SW, PH, PW, DH, DW)


def im2col_by_definition(x, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    """cols[(c, kh, kw), (n, oh, ow)] = x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] or 0."""
    N, C, H, W = x.shape
    cols = np.zeros((C, KH, KW, N, OH, OW), x.dtype)
    for c, kh, kw, n, oh, ow in np.ndindex(cols.shape):
        h, w = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
        if 0 <= h < H and 0 <= w < W:
            cols[c, kh, kw, n, oh, ow] = x[n, c, h, w]
    return cols.reshape(C * KH * KW, N * OH * OW)


@given(geometries(), st.integers(0, 2**32 - 1))
def test_numpy_twin_matches_definition_and_is_adjoint_of_col2im(geom, seed):
    shape, g = geom
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    cols = K.im2col_numpy(x, *g)
    np.testing.assert_array_equal(cols, im2col_by_definition(x, *g))
    # col2im is the transpose of im2col: <im2col(x), c> == <x, col2im(c)>
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * K.col2im_numpy(c, shape, *g)),
                               rtol=1e-10, atol=1e-10)


@given(geometries(), st.integers(0, 2**32 - 1))
def test_numba_twin_equals_numpy_twin_exactly_in_float64(geom, seed):
    shape, g = geom
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    np.testing.assert_array_equal(K.im2col_numba(x, *g), K.im2col_numpy(x, *g))
    c = rng.standard_normal(K.im2col_numpy(x, *g).shape)
    np.testing.assert_array_equal(K.col2im_numba(c, shape, *g), K.col2im_numpy(c, shape, *g))


@st.composite
def same_width_geometries(draw):
    """Stride 1 and OW == W: the Numba twin's contiguous-plane path (_im2col_rows_into), with
    any top/left padding (also beyond the kernel) and any OH (bottom padding implied)."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    DH, DW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    PH, PW = draw(st.integers(0, 5)), draw(st.integers(0, DW * (KW - 1) + 2))
    OH = draw(st.integers(1, H + 4))
    return (N, C, H, W), (KH, KW, OH, W, 1, 1, PH, PW, DH, DW)


@given(same_width_geometries(), st.integers(0, 2**32 - 1))
def test_numba_twin_stride1_same_width_path(geom, seed):
    shape, g = geom
    x = np.random.default_rng(seed).standard_normal(shape)
    expected = im2col_by_definition(x, *g)
    np.testing.assert_array_equal(K.im2col_numpy(x, *g), expected)
    np.testing.assert_array_equal(K.im2col_numba(x, *g), expected)
    out = np.full(expected.shape, np.nan)       # a recycled buffer: every entry is written
    np.testing.assert_array_equal(K.im2col_numba(x, *g, out=out), expected)
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(K.im2col_numba(x32, *g), K.im2col_numpy(x32, *g))


@st.composite
def inside_geometries(draw):
    """Stride 1, no padding, every window inside the input (OH, OW up to their largest): the
    Numba twin's unclipped copies (_inside_windows, _fold_inside_windows)."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    DH, DW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(DH * (KH - 1) + 1, 12)), draw(st.integers(DW * (KW - 1) + 1, 12))
    OH = draw(st.integers(1, H - DH * (KH - 1)))
    OW = draw(st.integers(1, W - DW * (KW - 1)))
    return (N, C, H, W), (KH, KW, OH, OW, 1, 1, 0, 0, DH, DW)


@given(inside_geometries(), st.sampled_from([np.float64, np.float32]), st.integers(0, 2**32 - 1))
def test_numba_twin_windows_inside_the_input_path(geom, dtype, seed):
    shape, g = geom
    assert K._inside_stride_one(*shape[2:], *g)             # the path under test is taken
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    x.flags.writeable = False                       # read-only inputs compile too
    expected = im2col_by_definition(x, *g)
    out = np.full(expected.shape, np.nan, dtype)    # a recycled buffer: every entry is written
    np.testing.assert_array_equal(K.im2col_numba(x, *g, out=out), expected)
    c = rng.standard_normal(expected.shape).astype(dtype)
    c.flags.writeable = False
    np.testing.assert_array_equal(K.col2im_numba(c, shape, *g), K.col2im_numpy(c, shape, *g))


@given(geometries(), st.integers(0, 2**32 - 1))
def test_numba_twin_equals_numpy_twin_in_float32(geom, seed):
    shape, g = geom
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    cols = K.im2col_numba(x, *g)
    assert cols.dtype == np.float32
    np.testing.assert_array_equal(cols, K.im2col_numpy(x, *g))
    c = rng.standard_normal(cols.shape).astype(np.float32)
    a, b = K.col2im_numba(c, shape, *g), K.col2im_numpy(c, shape, *g)
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_backend_switch():
    assert kernels.get_backend() in kernels.BACKENDS
    before = kernels.get_backend()
    with kernels.use_backend("numpy"):
        assert kernels.get_backend() == "numpy"
        x = np.arange(16.0).reshape(1, 1, 4, 4)
        np.testing.assert_array_equal(kernels.im2col(x, 2, 2, 3, 3, 1, 1, 0, 0, 1, 1),
                                      K.im2col_numpy(x, 2, 2, 3, 3, 1, 1, 0, 0, 1, 1))
    assert kernels.get_backend() == before
    with pytest.raises(ValueError, match="numpy"):
        kernels.set_backend("cuda")


def test_environment_variable_selects_backend():
    code = "import minigrad.kernels as k; print(k.get_backend())"
    env = dict(os.environ, MINIGRAD_KERNELS="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "numpy"


def test_the_fast_im2col_fills_a_given_buffer():
    """`out=` (a recycled, dirty buffer) is filled completely, padding zeros included."""
    im2col = K.im2col_numba
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 5, 4))
    g = (3, 2, 5, 3, 1, 2, 1, 1, 1, 1)                  # padding: some columns are all zeros
    expected = im2col_by_definition(x, *g)
    out = np.full(expected.shape, np.nan)
    assert im2col(x, *g, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_the_fast_col2im_writes_into_a_part_of_a_larger_batch():
    """`out=` (dirty, a slice of the whole batch's dx) gets exactly the returned result."""
    col2im = K.col2im_numba
    rng = np.random.default_rng(8)
    g = (3, 2, 5, 3, 1, 2, 1, 1, 1, 1)
    cols = rng.standard_normal((3 * 3 * 2, 2 * 5 * 3))
    expected = col2im(cols, (2, 3, 5, 4), *g)
    whole = np.full((5, 3, 5, 4), np.nan)
    assert col2im(cols, (2, 3, 5, 4), *g, out=whole[1:3]) is not None
    np.testing.assert_array_equal(whole[1:3], expected)
    assert np.isnan(whole[[0, 3, 4]]).all()                # the other samples are untouched
