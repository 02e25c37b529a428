"""A fuzzed public functional API: random shapes, dtypes and argument values, many of them
invalid. Every call must either return a correct result or raise ValueError / TypeError (or, for
an index out of range, IndexError, as Python and PyTorch do) raised by minigrad's own code with
its own message: nothing may escape from NumPy or Numba internals."""
import os
import traceback

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F

PACKAGE = os.path.dirname(mg.__file__)
try:
    import torch
    import torch.nn.functional as TF
except ImportError:                                     # results then checked by shape only
    torch = None

FUZZ = settings(max_examples=int(os.environ.get("MINIGRAD_FUZZ_EXAMPLES", 120)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FLOATS = (np.float32, np.float64)
DTYPES = st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.float16])
SMALL = st.integers(-2, 4)
ODD_VALUES = st.sampled_from([None, 1.5, "2", (1,), (1, 2, 3), True, -1])
INT_OR_PAIR = st.one_of(SMALL, st.tuples(SMALL, SMALL), ODD_VALUES)


def arrays(draw, min_dims=0, max_dims=5, max_side=5, dtype=None):
    shape = draw(st.lists(st.integers(0, max_side), min_size=min_dims, max_size=max_dims))
    dtype = dtype or draw(DTYPES)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return (rng.standard_normal(shape) * 3).astype(dtype)


@st.composite
def tensors(draw, **kwargs):
    return mg.tensor(arrays(draw, **kwargs))


def outcome(call):
    """The result of call(), or None when it raised one of minigrad's own errors (from one of
    its `raise` statements); any other exception -- one raised inside NumPy or Numba, or a
    Python error in minigrad's own arithmetic (`a - None`) -- fails the test."""
    try:
        return call()
    except (ValueError, TypeError, IndexError) as error:
        frames = traceback.extract_tb(error.__traceback__)
        origin = frames[-1].filename
        assert origin.startswith(PACKAGE) and frames[-1].line.startswith("raise"), (
            f"{type(error).__name__} escaped from {origin}:{frames[-1].lineno} "
            f"({frames[-1].line}): {error}")
        assert str(error), "an error without a message"
        return None


def as_torch(x):
    return torch.from_numpy(np.ascontiguousarray(x.data if hasattr(x, "data") else x))


def close(ours, theirs, dtype):
    tolerance = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=tolerance,
                               atol=tolerance)


def operands(data, x_min, x_max, w_min, w_max):
    """(input, weight, bias or None) of random shapes and dtypes."""
    return (data.draw(tensors(min_dims=x_min, max_dims=x_max)),
            data.draw(tensors(min_dims=w_min, max_dims=w_max)),
            data.draw(st.one_of(st.none(), tensors(min_dims=0, max_dims=2))))


@FUZZ
@given(st.data())
def test_conv2d(data):
    x, w, bias = operands(data, 3, 5, 3, 5)
    stride, padding, dilation = (data.draw(INT_OR_PAIR) for _ in range(3))
    padding = data.draw(st.one_of(st.just(padding), st.sampled_from(["same", "valid", "x"])))
    groups = data.draw(st.one_of(st.integers(-1, 3), ODD_VALUES))
    y = outcome(lambda: F.conv2d(x, w, bias, stride, padding, dilation, groups))
    if y is not None:             # with or without torch: against the convolution by primitives
        tolerance = 1e-4 if x.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(y.data, conv2d_by_primitives(x, w, bias, stride, padding,
                                                                dilation, groups),
                                   rtol=tolerance, atol=tolerance)
    if y is not None and torch is not None and x.dtype in (np.float32, np.float64):
        expected = TF.conv2d(as_torch(x), as_torch(w), None if bias is None else as_torch(bias),
                             stride, padding, dilation, groups)
        close(y, expected, x.dtype)


def conv2d_by_primitives(x, w, bias, stride, padding, dilation, groups):
    """conv2d_simple (im2col, matmul, reshape: groups=1) on each group's channels, side by side."""
    from minigrad.ops.conv import conv2d_simple
    Cg, OCg = w.shape[1], w.shape[0] // groups
    return np.concatenate([conv2d_simple(
        x.data[:, g * Cg:(g + 1) * Cg], w.data[g * OCg:(g + 1) * OCg],
        None if bias is None else bias.data[g * OCg:(g + 1) * OCg], stride, padding,
        dilation).data for g in range(groups)], axis=1)


@FUZZ
@given(st.data())
def test_pooling(data):
    x = data.draw(tensors(min_dims=2, max_dims=5))
    kernel, stride, padding = data.draw(INT_OR_PAIR), data.draw(st.one_of(st.none(),
                                                                           INT_OR_PAIR)), \
        data.draw(INT_OR_PAIR)
    kind = data.draw(st.sampled_from(["max", "avg", "global"]))
    if kind == "global":
        y = outcome(lambda: F.global_avg_pool2d(x, data.draw(st.booleans())))
        if y is not None:
            np.testing.assert_allclose(y.data.reshape(x.shape[:2]), x.data.mean(axis=(2, 3)),
                                       rtol=1e-5)
        return
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    y = outcome(lambda: pool(x, kernel, stride, padding))
    if y is not None and torch is not None and x.dtype in (np.float32, np.float64):
        reference = TF.max_pool2d if kind == "max" else TF.avg_pool2d
        close(y, reference(as_torch(x), kernel, stride, padding), x.dtype)


@FUZZ
@given(st.data())
def test_batch_norm(data):
    x = data.draw(tensors(min_dims=1, max_dims=5))
    channels = data.draw(st.integers(0, 4))
    stats = [data.draw(st.one_of(st.none(), st.just(np.zeros(channels, np.float32)),
                                 st.just(np.ones(channels + 1, np.float32)), ODD_VALUES))
             for _ in range(2)]
    weight = data.draw(st.one_of(st.none(), tensors(min_dims=1, max_dims=1)))
    training = data.draw(st.booleans())
    momentum = data.draw(st.sampled_from([0.1, -0.5, 2.0, float("nan"), "a"]))
    eps = data.draw(st.sampled_from([1e-5, 0.0, -1.0, float("nan")]))
    y = outcome(lambda: F.batch_norm(x, stats[0], stats[1], weight, None, training, momentum,
                                     eps))
    if y is not None:
        assert y.shape == x.shape


@FUZZ
@given(st.data())
def test_linear_and_matmul(data):
    x, w, bias = operands(data, 0, 4, 0, 3)
    y = outcome(lambda: F.linear(x, w, bias))
    dtypes = {np.dtype(t.dtype) for t in (x, w, bias) if t is not None}
    if y is not None and torch is not None and len(dtypes) == 1 and x.dtype in FLOATS:
        close(y, TF.linear(as_torch(x), as_torch(w), None if bias is None else as_torch(bias)),
              x.dtype)
    elif y is not None:              # mixed dtypes, which torch refuses: NumPy's promotion
        expected = x.data @ w.data.T + (0 if bias is None else bias.data)
        np.testing.assert_allclose(y.data, expected, rtol=1e-5)
    z = outcome(lambda: F.matmul(x, w))
    if z is not None:
        np.testing.assert_allclose(z.data, x.data @ w.data, rtol=1e-5)


@FUZZ
@given(st.data())
def test_losses(data):
    scores = data.draw(tensors(min_dims=0, max_dims=3))
    labels = data.draw(st.one_of(
        st.builds(lambda n, hi, lo: np.random.default_rng(n).integers(lo, hi, n),
                  st.integers(0, 5), st.integers(1, 6), st.integers(-1, 0)),
        tensors(min_dims=0, max_dims=2), ODD_VALUES))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none", "max"]))
    smoothing = data.draw(st.sampled_from([0.0, 0.1, -0.1, 1.5]))
    y = outcome(lambda: F.cross_entropy(scores, labels, reduction=reduction,
                                        label_smoothing=smoothing))
    if y is not None and torch is not None and scores.dtype in (np.float32, np.float64) \
            and len(scores):
        close(y, TF.cross_entropy(as_torch(scores), torch.from_numpy(np.asarray(labels)),
                                  reduction=reduction, label_smoothing=smoothing), scores.dtype)
    outcome(lambda: F.nll_loss(scores, labels, reduction=reduction))
    target = data.draw(st.one_of(tensors(min_dims=0, max_dims=3), ODD_VALUES))
    for loss in (F.mse_loss, F.binary_cross_entropy_with_logits):
        y = outcome(lambda: loss(scores, target, reduction=reduction))
        if y is not None and reduction != "none":
            assert y.numel() == 1


@FUZZ
@given(st.data())
def test_reshape_transpose_getitem(data):
    x = data.draw(tensors(min_dims=0, max_dims=4))
    shape = data.draw(st.one_of(st.lists(st.integers(-2, 6), max_size=4).map(tuple),
                                st.integers(-2, 8), ODD_VALUES))
    y = outcome(lambda: F.reshape(x, shape))
    if y is not None:
        assert y.data.tolist() == x.data.reshape(shape).tolist()
    axes = data.draw(st.one_of(st.none(), st.lists(st.integers(-5, 5), max_size=5).map(tuple),
                               ODD_VALUES))
    y = outcome(lambda: F.permute(x, axes))
    if y is not None:
        assert y.data.tolist() == np.transpose(x.data, axes).tolist()
    dim0, dim1 = data.draw(st.one_of(st.tuples(st.integers(-5, 5), st.integers(-5, 5)),
                                     st.tuples(ODD_VALUES, st.integers(-5, 5))))
    y = outcome(lambda: F.transpose(x, dim0, dim1))
    if y is not None:
        assert y.data.tolist() == np.swapaxes(x.data, dim0, dim1).tolist()
    index = data.draw(st.one_of(
        st.integers(-6, 6), st.slices(6), st.tuples(st.integers(-6, 6), st.integers(-6, 6)),
        st.just(Ellipsis), st.just(None), st.lists(st.integers(-6, 6), max_size=3),
        st.just((slice(None), None, 0)), st.sampled_from([1.5, "a", [[0, 1], [1]]])))
    y = outcome(lambda: x[index])
    if y is not None:
        assert y.data.tolist() == x.data[index].tolist()
