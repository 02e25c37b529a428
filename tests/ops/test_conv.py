"""conv2d: forward against a loop-by-loop definition, backward against gradcheck and PyTorch."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minigrad as mg
from minigrad import kernels
from minigrad.kernels._numba import HAVE_NUMBA
from minigrad.ops.conv import conv2d, conv2d_simple, conv_output_size, padding_sides
from minigrad.testing import assert_gradients_match
from tests.helpers import leaf, torch_or_skip


def conv2d_by_definition(x, w, b, stride, padding, dilation, groups):
    """y[n, o, i, j] = b[o] + sum_{c,kh,kw} w[o, c, kh, kw] * xpad[n, g*Cg + c, i*S + kh*D, ...]"""
    (SH, SW), (PT, PB, PL, PR), (DH, DW) = stride, padding, dilation
    N, C, H, W = x.shape
    OC, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PT, PB), (PL, PR)))
    OH = (H + PT + PB - DH * (KH - 1) - 1) // SH + 1
    OW = (W + PL + PR - DW * (KW - 1) - 1) // SW + 1
    y = np.zeros((N, OC, OH, OW))
    for n, o, i, j in np.ndindex(y.shape):
        g = o // (OC // groups)
        window = xp[n, g * Cg:(g + 1) * Cg, i * SH:i * SH + DH * (KH - 1) + 1:DH,
                    j * SW:j * SW + DW * (KW - 1) + 1:DW]
        y[n, o, i, j] = np.sum(window * w[o]) + (0 if b is None else b[o])
    return y


@st.composite
def conv_cases(draw, max_side=7):
    """Random conv geometry: stride > kernel, kernel == input, padding > kernel, 1x1, groups."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    Cg, OCg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    N = draw(st.integers(1, 2))
    H, W = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    ph, pw = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    assume(DH_ok(H, KH, ph, dilation[0]) and DH_ok(W, KW, pw, dilation[1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, Cg * groups, H, W))
    w = rng.standard_normal((OCg * groups, Cg, KH, KW))
    b = rng.standard_normal(OCg * groups) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, padding=(ph, pw), dilation=dilation, groups=groups)


def DH_ok(size, k, p, d):
    return d * (k - 1) + 1 <= size + 2 * p


def _pad4(padding):
    return padding[0], padding[0], padding[1], padding[1]


@given(conv_cases(max_side=8))
def test_forward_matches_definition(case):
    x, w, b, kw = case
    y = conv2d(x, w, b, **kw)
    expected = conv2d_by_definition(x, w, b, kw["stride"], _pad4(kw["padding"]), kw["dilation"],
                                    kw["groups"])
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-10)


@given(conv_cases(max_side=5))
def test_gradients_match_numerical(case):
    x, w, b, kw = case
    inputs = (x, w) if b is None else (x, w, b)
    assert_gradients_match(lambda *t: conv2d(*t, **kw), *inputs)


def run_conv_with(backend, x, w, b, **options):
    """Forward and backward of conv2d on `backend`; -> (y, dx, dw, db, the kernels that ran)."""
    with kernels.use_backend(backend), kernels.recorded() as calls:
        tx, tw, tb = leaf(x), leaf(w), leaf(b)
        y = conv2d(tx, tw, tb, **options)
        y.backward(np.cos(y.data))
    return (y.data, tx.grad, tw.grad, tb.grad), calls


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
def test_the_switch_runs_conv2d_through_the_twin_it_names():
    """MINIGRAD_KERNELS=numpy runs conv2d's forward and backward on the readable twin; both twins
    agree (to rounding: the fast one sums over parts of the batch; tests/kernels/)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    options = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    reference, numpy_calls = run_conv_with("numpy", x, w, b, **options)
    result, numba_calls = run_conv_with("numba", x, w, b, **options)
    for backend, calls in (("numpy", numpy_calls), ("numba", numba_calls)):
        assert calls == [("conv2d_forward", backend), ("conv2d_backward", backend)]
    for a, c in zip(reference, result):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
def test_a_backward_runs_on_the_twin_of_its_forward():
    """Each twin keeps `cols` in a form of its own, so the switch may change in between."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    tx, tw = leaf(x), leaf(w)
    with kernels.use_backend("numpy"):
        y = conv2d(tx, tw, padding=1)
    with kernels.use_backend("numba"), kernels.recorded() as calls:
        y.backward(np.cos(y.data))
    assert calls == [("conv2d_backward", "numpy")]
    sx, sw = leaf(x), leaf(w)
    conv2d_simple(sx, sw, padding=1).backward(np.cos(y.data))
    np.testing.assert_allclose(tx.grad, sx.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tw.grad, sw.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding,kernel,stride,dilation", [
    ("valid", 3, 1, 1), ("same", 3, 1, 1), ("same", 4, 1, 1), ("same", 3, 1, 2),
    ("full", 3, 1, 1), ("full", 2, 1, 2), (2, 5, 1, 1), ((0, 1), 3, 2, 1)])
def test_padding_modes(padding, kernel, stride, dilation):
    x = np.random.default_rng(1).standard_normal((1, 2, 7, 6))
    w = np.random.default_rng(2).standard_normal((3, 2, kernel, kernel))
    y = conv2d(x, w, padding=padding, stride=stride, dilation=dilation)
    span = dilation * (kernel - 1)
    if padding == "same":
        assert y.shape[2:] == (7, 6)
        pad = (span // 2, span - span // 2, span // 2, span - span // 2)
    elif padding == "full":
        assert y.shape[2:] == (7 + span, 6 + span)
        pad = (span,) * 4
    elif padding == "valid":
        pad = (0,) * 4
    else:
        pad = _pad4((padding, padding) if isinstance(padding, int) else padding)
    expected = conv2d_by_definition(x, w, None, (stride, stride), pad, (dilation, dilation), 1)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-10)
    assert_gradients_match(lambda a, b: conv2d(a, b, padding=padding, stride=stride,
                                               dilation=dilation), x[:, :, :5, :4], w)


@pytest.mark.parametrize("case", ["1x1", "depthwise", "stride>kernel", "kernel==input",
                                  "padding>kernel"])
def test_special_geometries(case):
    rng = np.random.default_rng(3)
    C = 3
    x = rng.standard_normal((2, C, 5, 5))
    kw, w = {}, rng.standard_normal((4, C, 3, 3))
    if case == "1x1":
        w = rng.standard_normal((4, C, 1, 1))
        # a 1x1 convolution is a matmul over channels at every pixel
        expected = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x)
        np.testing.assert_allclose(conv2d(x, w).data, expected, rtol=1e-12)
    elif case == "depthwise":
        w, kw = rng.standard_normal((2 * C, 1, 3, 3)), dict(groups=C, padding=1)
    elif case == "stride>kernel":
        w, kw = rng.standard_normal((4, C, 2, 2)), dict(stride=3)
    elif case == "kernel==input":
        w = rng.standard_normal((4, C, 5, 5))
        assert conv2d(x, w).shape == (2, 4, 1, 1)
    else:
        kw = dict(padding=4)
    assert_gradients_match(lambda a, b: conv2d(a, b, **kw), x, w)


def test_simple_reference_equals_fused_conv():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    grads = []
    for fn in (conv2d, conv2d_simple):
        tx, tw, tb = leaf(x), leaf(w), leaf(b)
        y = fn(tx, tw, tb, stride=(2, 1), padding="full", dilation=(1, 2))
        y.backward(np.sin(y.data))
        grads.append((y.data, tx.grad, tw.grad, tb.grad))
    for a, c in zip(*grads):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_float32_stays_float32_and_no_input_grad_skips_dx():
    rng = np.random.default_rng(5)
    x = mg.Tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))        # no grad
    w = mg.Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = conv2d(x, w, padding=1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad is None and w.grad.dtype == np.float32 and w.grad.shape == w.shape


@pytest.mark.parametrize("padding,kernel,dilation,sides", [
    ("same", 4, 2, (3, 3, 3, 3)),             # span 6: 3 on each side
    ("same", (3, 4), (1, 1), (1, 1, 1, 2)),   # span 3 along W: the odd pixel goes right
    ("same", (2, 5), 1, (0, 1, 2, 2)),         # and at the bottom; each axis its own span
    ("full", 3, 2, (4, 4, 4, 4)), ("valid", 5, 1, (0, 0, 0, 0)), ((2, 1), 3, 1, (2, 2, 1, 1))])
def test_padding_sides_names_the_padding_conv2d_applies(padding, kernel, dilation, sides):
    assert padding_sides(padding, kernel, dilation=dilation) == sides
    x = np.random.default_rng(9).standard_normal((1, 1, 9, 8))
    w = np.random.default_rng(10).standard_normal((1, 1) + ((kernel,) * 2 if np.isscalar(kernel)
                                                             else kernel))
    expected = conv2d_by_definition(x, w, None, (1, 1), sides, (dilation,) * 2
                                    if np.isscalar(dilation) else dilation, 1)
    np.testing.assert_allclose(conv2d(x, w, padding=padding, dilation=dilation).data, expected,
                               rtol=1e-12, atol=1e-12)


def test_output_size_helper():
    assert conv_output_size(32, 5) == 28
    assert conv_output_size(32, 5, padding=2) == 32
    assert conv_output_size(15, 3, stride=2) == 7
    assert conv_output_size(7, 3, dilation=2, padding=2) == 7
    assert conv_output_size(7, 4, padding=(1, 2)) == 7


@pytest.mark.parametrize("config", [
    dict(stride=1, padding=0), dict(stride=2, padding=1), dict(padding="same", dilation=2),
    dict(stride=(1, 2), padding=(2, 1), groups=2), dict(groups=4, padding=1)])
def test_matches_torch(config):
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 9, 10))
    w = rng.standard_normal((8, 4 // config.get("groups", 1), 3, 3))
    b = rng.standard_normal(8)
    tx, tw, tb = leaf(x), leaf(w), leaf(b)
    y = conv2d(tx, tw, tb, **config)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    px, pw, pb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    py = torch.nn.functional.conv2d(px, pw, pb, **config)
    py.backward(torch.tensor(g))
    for ours, theirs in [(y.data, py), (tx.grad, px.grad), (tw.grad, pw.grad), (tb.grad, pb.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_matches_torch_float32_lenet_shape():
    torch = torch_or_skip()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32) * 0.1
    tx, tw = mg.Tensor(x, requires_grad=True), mg.Tensor(w, requires_grad=True)
    y = conv2d(tx, tw)
    y.backward(np.ones(y.shape, np.float32))
    px, pw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    py = torch.nn.functional.conv2d(px, pw)
    py.backward(torch.ones_like(py))
    np.testing.assert_allclose(y.data, py.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tx.grad, px.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tw.grad, pw.grad.numpy(), rtol=1e-4, atol=1e-3)


# ----- dx by correlation: the backward path for layers that narrow the channels (OC < C) -----
@st.composite
def narrowing_cases(draw):
    """OC < C, stride 1, dilation 1, groups 1, padding 0..k-1: dx = corr(pad(dY), rot180(W)^T)."""
    N, OC = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    C = OC + draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = draw(st.integers(KH, 6)), draw(st.integers(KW, 6))
    pad = (draw(st.integers(0, KH - 1)), draw(st.integers(0, KW - 1)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((OC, C, KH, KW))
    return x, w, rng.standard_normal(OC), pad


@given(narrowing_cases())
def test_narrowing_layer_gradients(case):
    x, w, b, pad = case
    assert_gradients_match(lambda *t: conv2d(*t, padding=pad), x, w, b)
    grads = []              # both twins, and the col2im path of conv2d_simple, agree
    for fn, backend in [(conv2d, "numpy"), (conv2d, "numba"), (conv2d_simple, "numpy")]:
        if backend == "numba" and not HAVE_NUMBA:
            continue
        with kernels.use_backend(backend), kernels.recorded() as calls:
            tx, tw, tb = leaf(x), leaf(w), leaf(b)
            y = fn(tx, tw, tb, padding=pad)
            y.backward(np.cos(y.data))
            grads.append((y.data, tx.grad, tw.grad, tb.grad))
        assert calls and {used for _, used in calls} == {backend}
    for other in grads[1:]:
        for a, c in zip(grads[0], other):
            np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("padding", [0, 1, 2, (2, 0)])
def test_narrowing_layer_matches_torch(padding):
    torch = torch_or_skip()
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((3, 8, 7, 6)), rng.standard_normal((4, 8, 3, 3)), \
        rng.standard_normal(4)
    tx, tw, tb = leaf(x), leaf(w), leaf(b)
    y = conv2d(tx, tw, tb, padding=padding)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    px, pw, pb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    py = torch.nn.functional.conv2d(px, pw, pb, padding=padding)
    py.backward(torch.tensor(g))
    for ours, theirs in [(y.data, py), (tx.grad, px.grad), (tw.grad, pw.grad), (tb.grad, pb.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


# ----- bad input: clear errors before anything runs -----
def test_non_4d_input():
    with pytest.raises(ValueError, match=r"4-D input .*\(3, 8, 8\)"):
        conv2d(np.zeros((3, 8, 8)), np.zeros((2, 3, 3, 3)))


def test_channels_not_matching_weight_names_both():
    with pytest.raises(ValueError, match=r"3 channels.*expects 1"):
        conv2d(np.zeros((1, 3, 8, 8)), np.zeros((2, 1, 3, 3)))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="larger than the padded input 6x6"):
        conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 7, 7)), padding=1)
    with pytest.raises(ValueError, match=r"kernel 1x7 .* larger than the padded input 4x4"):
        conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 1, 7)))       # too wide only


def test_groups_not_dividing_channels():
    with pytest.raises(ValueError, match="groups=2 must divide"):
        conv2d(np.zeros((1, 3, 8, 8)), np.zeros((4, 1, 3, 3)), groups=2)


@pytest.mark.parametrize("kwargs,error", [
    (dict(stride=0), ValueError), (dict(padding=-1), ValueError),
    (dict(padding="half"), ValueError),
    (dict(padding="same", stride=2), ValueError), (dict(stride=1.5), TypeError),
    (dict(bias=np.zeros(3)), ValueError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        conv2d(np.zeros((1, 2, 8, 8)), np.zeros((4, 2, 3, 3)), **kwargs)


def test_dtype_mismatch():
    with pytest.raises(TypeError, match="float32.*float64"):
        conv2d(np.zeros((1, 2, 8, 8), np.float32), np.zeros((4, 2, 3, 3)))
