"""Pooling ops: forward by definition, gradients by gradcheck, and PyTorch cross-checks."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad import kernels
from minigrad.ops.pool import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d
from minigrad.testing import assert_gradients_match
from tests.helpers import leaf, torch_or_skip


@st.composite
def pool_cases(draw):
    """x and (kernel, stride, padding, ceil_mode): overlapping windows, stride > kernel, kernel
    == input, and with ceil_mode a last window that runs past the padding."""
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 5), st.integers(1, 5))))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    assume(k[0] <= H + 2 * p[0] and k[1] <= W + 2 * p[1])
    # seeded normal values: no exact ties, so max pooling is differentiable at x
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal((N, C, H, W))
    return x, k, s, p, draw(st.booleans())


def windows_along(size, k, s, p, ceil_mode):
    """Number of windows, from PyTorch's documented formula: floor (or ceil) of
    (size + 2p - k) / s, plus 1; with ceil_mode a last window starting beyond the input and its
    left padding is dropped."""
    span = (size + 2 * p - k) / s
    out = (int(np.ceil(span)) if ceil_mode else int(np.floor(span))) + 1
    return out - 1 if ceil_mode and (out - 1) * s >= size + p else out


def pool_by_definition(x, k, s, p, ceil_mode, reduce, pad_value):
    """reduce() of every window of the padded input; a slice past its end is cut short, which is
    what a last ceil_mode window sees."""
    s = k if s is None else s
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=pad_value)
    OH, OW = windows_along(H, k[0], s[0], p[0], ceil_mode), windows_along(W, k[1], s[1], p[1],
                                                                            ceil_mode)
    y = np.empty((N, C, OH, OW))
    for n, c, i, j in np.ndindex(y.shape):
        y[n, c, i, j] = reduce(xp[n, c, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]])
    return y


@given(pool_cases())
def test_max_pool_forward_and_gradient(case):
    x, k, s, p, ceil_mode = case
    np.testing.assert_array_equal(max_pool2d(x, k, s, p, ceil_mode=ceil_mode).data,
                                  pool_by_definition(x, k, s, p, ceil_mode, np.max, -np.inf))
    assert_gradients_match(lambda t: max_pool2d(t, k, s, p, ceil_mode=ceil_mode), x)


@given(pool_cases(), st.booleans())
def test_avg_pool_forward_and_gradient(case, count_include_pad):
    x, k, s, p, ceil_mode = case
    if count_include_pad:   # the padding counts; what lies past it (ceil_mode) does not
        expected = pool_by_definition(x, k, s, p, ceil_mode, np.mean, 0.0)
    else:   # mean of the real elements only: sum / count of ones in the window
        total = pool_by_definition(x, k, s, p, ceil_mode, np.sum, 0.0)
        count = pool_by_definition(np.ones_like(x), k, s, p, ceil_mode, np.sum, 0.0)
        expected = total / count
    np.testing.assert_allclose(avg_pool2d(x, k, s, p, ceil_mode, count_include_pad).data,
                               expected, rtol=1e-12, atol=1e-12)
    assert_gradients_match(lambda t: avg_pool2d(t, k, s, p, ceil_mode, count_include_pad), x)


def test_avg_pool_arguments_are_in_torchs_order():
    """avg_pool2d(x, 3, 2, 0, True) is ceil_mode=True as in PyTorch (it once meant
    count_include_pad); max_pool2d's ceil_mode is keyword-only, since PyTorch's 5th argument
    there is dilation."""
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    assert avg_pool2d(x, 2, 2, 0, True).shape == (1, 1, 3, 3)
    assert avg_pool2d(x, 2, 2, 0, False).shape == (1, 1, 2, 2)
    assert avg_pool2d(x, 2, 2, 0, False, False).shape == (1, 1, 2, 2)
    with pytest.raises(TypeError):
        max_pool2d(x, 2, 2, 0, True)
    assert max_pool2d(x, 2, 2, 0, ceil_mode=True).data[0, 0, 2, 2] == 24
    assert nn.AvgPool2d(2, 2, 0, True)(mg.tensor(x)).shape == (1, 1, 3, 3)
    with pytest.raises(TypeError):
        nn.MaxPool2d(2, 2, 0, True)


def test_max_pool_overlapping_windows_share_the_winner():
    # AlexNet's 3x3 stride 2: the centre 9 is the maximum of all four windows
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 9.0
    t = leaf(x)
    y = max_pool2d(t, 3, 2)
    assert y.shape == (1, 1, 2, 2) and np.all(y.data == 9.0)
    y.backward(np.ones(y.shape))
    assert t.grad[0, 0, 2, 2] == 4.0 and t.grad.sum() == 4.0


def test_max_pool_tie_goes_to_first_element():
    t = leaf(np.ones((1, 1, 2, 2)))
    max_pool2d(t, 2).backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(t.grad[0, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_global_avg_pool():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(global_avg_pool2d(x).data, x.mean(axis=(2, 3)))
    assert global_avg_pool2d(x, keepdims=True).shape == (2, 3, 1, 1)
    assert_gradients_match(global_avg_pool2d, x)
    assert_gradients_match(lambda t: global_avg_pool2d(t, keepdims=True), x)


@pytest.mark.parametrize("backend", kernels.BACKENDS)
def test_float32_in_float32_out(backend):
    x = mg.Tensor(np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32),
                  requires_grad=True)
    with kernels.use_backend(backend), kernels.recorded() as calls:
        for y in (max_pool2d(x, 3, 2), avg_pool2d(x, 2), global_avg_pool2d(x)):
            assert y.dtype == np.float32
            x.grad = None
            y.sum().backward()
            assert x.grad.dtype == np.float32
    assert calls == [("max_pool2d_forward", backend), ("avg_pool2d_forward", backend),
                     ("max_pool2d_backward", backend), ("avg_pool2d_backward", backend)]


def test_numba_twins_on_two_threads_give_the_whole_batch_result(two_threads):
    from minigrad.kernels import parallel
    x = np.random.default_rng(2).standard_normal((5, 3, 9, 8))
    dy = np.random.default_rng(3).standard_normal((5, 3, 5, 4))
    results = []
    for threads in (1, 2):
        parallel.set_num_threads(threads)
        two_threads.clear()
        with kernels.use_backend("numba"), kernels.recorded() as calls:
            grads = []
            for pool in (lambda t: max_pool2d(t, 3, 2, 1), lambda t: avg_pool2d(t, 3, 2, 1)):
                tx = mg.Tensor(x, requires_grad=True)
                y = pool(tx)
                y.backward(dy)
                grads += [y.data, tx.grad]
        assert two_threads == [threads] * 4 and len(calls) == 4
        results.append(grads)
    for a, c in zip(*results):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 0), (3, 2, 1), (2, 1, 1),
                                   ((3, 2), (1, 2), (1, 0)), (2, 3, 1)])
def test_matches_torch(k, s, p):
    torch = torch_or_skip()
    F = torch.nn.functional
    x = np.random.default_rng(2).standard_normal((2, 3, 11, 9))
    g_rng = np.random.default_rng(3)
    cases = []
    for ceil in (False, True):
        cases.append((lambda t, m=ceil: max_pool2d(t, k, s, p, ceil_mode=m),
                      lambda t, m=ceil: F.max_pool2d(t, k, s, p, ceil_mode=m)))
        for cip in (True, False):
            cases.append((lambda t, c=cip, m=ceil: avg_pool2d(t, k, s, p, m, c),
                          lambda t, c=cip, m=ceil: F.avg_pool2d(t, k, s, p, m, c)))
    for ours, theirs in cases:
        t = leaf(x)
        y = ours(t)
        g = g_rng.standard_normal(y.shape)
        y.backward(g)
        pt = torch.tensor(x, requires_grad=True)
        py = theirs(pt)
        py.backward(torch.tensor(g))
        np.testing.assert_allclose(y.data, py.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(t.grad, pt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d])
def test_bad_input(fn):
    with pytest.raises(ValueError, match="4-D input"):
        fn(np.zeros((3, 8, 8)), 2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        fn(np.zeros((1, 1, 3, 3)), 6, padding=1)
    with pytest.raises(ValueError, match="at most half the kernel"):
        fn(np.zeros((1, 1, 8, 8)), 2, padding=2)
    with pytest.raises(ValueError, match="stride"):
        fn(np.zeros((1, 1, 8, 8)), 2, stride=0)
    with pytest.raises(TypeError, match="kernel_size"):
        fn(np.zeros((1, 1, 8, 8)), 2.5)


@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 2**32 - 1))
def test_adaptive_avg_pool_forward_and_gradient(H, W, OH, OW, seed):
    """Cell (i, j) averages rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1, and the columns alike."""
    x = np.random.default_rng(seed).standard_normal((2, 2, H, W))
    expected = np.empty((2, 2, OH, OW))
    for i, j in np.ndindex(OH, OW):
        rows = slice(i * H // OH, int(np.ceil((i + 1) * H / OH)))
        cols = slice(j * W // OW, int(np.ceil((j + 1) * W / OW)))
        expected[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    np.testing.assert_allclose(adaptive_avg_pool2d(x, (OH, OW)).data, expected, rtol=1e-12)
    assert_gradients_match(lambda t: adaptive_avg_pool2d(t, (OH, OW)), x)


def test_adaptive_avg_pool_matches_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 9))
    for size in (1, (2, 3), (3, 3), 7):
        t, pt = leaf(x), torch.tensor(x, requires_grad=True)
        y, py = adaptive_avg_pool2d(t, size), torch.nn.functional.adaptive_avg_pool2d(pt, size)
        g = np.random.default_rng(5).standard_normal(y.shape)
        y.backward(g)
        py.backward(torch.tensor(g))
        np.testing.assert_allclose(y.data, py.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(t.grad, pt.grad.numpy(), rtol=1e-12)


@given(pool_cases())
def test_average_pooling_is_a_depthwise_convolution_with_weights_one_over_k2(case):
    """The lesson of examples/pooling_as_convolution.py, for every window and padding: average
    pooling (padding counted, no ceil_mode) and global average pooling are convolutions with
    fixed weights 1/(KH*KW), one channel at a time."""
    x, k, s, p, _ = case
    C = x.shape[1]
    weights = np.full((C, 1) + k, 1.0 / (k[0] * k[1]))
    conv = mg.functional.conv2d(x, weights, stride=k if s is None else s, padding=p, groups=C)
    np.testing.assert_allclose(avg_pool2d(x, k, s, p).data, conv.data, rtol=1e-12, atol=1e-12)
    everything = np.full((C, 1) + x.shape[2:], 1.0 / (x.shape[2] * x.shape[3]))
    np.testing.assert_allclose(adaptive_avg_pool2d(x, 1).data,
                               mg.functional.conv2d(x, everything, groups=C).data, rtol=1e-12,
                               atol=1e-12)


def test_defaults_are_pytorchs_stride_kernel_and_no_padding():
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 4))
    blocks = x.reshape(2, 3, 3, 2, 2, 2)                  # 2x2 blocks: (n, c, i, a, j, b)
    np.testing.assert_allclose(avg_pool2d(x, 2).data, blocks.mean(axis=(3, 5)), rtol=1e-12)
    np.testing.assert_array_equal(max_pool2d(x, 2).data, blocks.max(axis=(3, 5)))


@pytest.mark.parametrize("shape", [(2, 0, 4, 4), (2, 1, 0, 5), (0, 0, 0, 0)])
def test_empty_channels_or_image_are_a_clear_error_as_in_torch(shape):
    x = mg.tensor(np.zeros(shape, dtype=np.float32))
    with pytest.raises(ValueError, match=r"max_pool2d: expected C, H and W of at least 1 in "
                                         r"the input, got shape"):
        max_pool2d(x, 2, None, 1)


def test_an_empty_batch_is_allowed_as_in_torch():
    assert max_pool2d(mg.tensor(np.zeros((0, 1, 4, 4), np.float32)), 2).shape == (0, 1, 2, 2)
