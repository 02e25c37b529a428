"""kernels/conv.py: the fast twin of conv2d against the readable one, and its speed paths (the
batch in parts on threads, dx in blocks of samples or by correlation, recycled buffers)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minigrad import kernels
from minigrad.kernels import conv as K
from minigrad.kernels import parallel
from minigrad.kernels._numba import HAVE_NUMBA
from minigrad.ops.conv import conv2d, conv_geometry
from tests.helpers import leaf
from tests.ops.test_conv import conv_cases, narrowing_cases, run_conv_with

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


def twin_result(twin, x, w, b, geometry, groups, dy, needs=(True, True, True)):
    """Forward and backward of one twin, each with its own kept `cols`: (y, dx, dW, db)."""
    forward = getattr(K, f"conv2d_forward_{twin}")
    backward = getattr(K, f"conv2d_backward_{twin}")
    y, cols = forward(x, w, b, geometry, groups, keep_cols=needs[1])
    return (y, *backward(dy(y), cols, w, x.shape, geometry, groups, needs))


def geometry_of(x, w, options):
    ph, pw = options["padding"]
    return conv_geometry(x.shape, w.shape[2:], options["stride"], (ph, ph, pw, pw),
                         options["dilation"])


@needs_numba
@given(conv_cases(max_side=8), st.sampled_from([np.float64, np.float32]),
       st.sampled_from([(True, True, True), (True, False, False), (False, True, True)]))
def test_the_fast_twin_equals_the_readable_twin(case, dtype, needs):
    """Equal to rounding, not bit for bit: the fast twin's GEMMs are sliced, and it sums dW and db
    in another order (over the parts of the batch)."""
    x, w, b, options = case
    x, w = x.astype(dtype), w.astype(dtype)
    b = None if b is None else b.astype(dtype)
    geometry, groups = geometry_of(x, w, options), options["groups"]
    results = [twin_result(twin, x, w, b, geometry, groups, np.cos, needs)
               for twin in ("numpy", "numba")]
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for readable, fast in zip(*results):
        assert (readable is None) == (fast is None)
        if readable is not None:
            assert readable.dtype == fast.dtype == dtype
            np.testing.assert_allclose(fast, readable, rtol=tolerance, atol=tolerance)


@needs_numba
@pytest.mark.parametrize("options,shapes", [
    (dict(padding=(1, 1), stride=(1, 1), dilation=(1, 1), groups=1), ((5, 3, 6, 7), (4, 3, 3, 3))),
    (dict(padding=(0, 0), stride=(2, 2), groups=2, dilation=(1, 2)), ((4, 4, 9, 8), (6, 2, 3, 2))),
    (dict(padding=(1, 0), stride=(1, 1), dilation=(1, 1), groups=1),
     ((3, 6, 5, 5), (2, 6, 3, 3)))])                         # OC < C: dx by correlation
def test_parts_of_the_batch_on_two_threads_give_the_whole_batch_result(two_threads, options,
                                                                       shapes):
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1]), \
        rng.standard_normal(shapes[1][0])
    geometry, groups = geometry_of(x, w, options), options["groups"]
    parallel.set_num_threads(1)
    whole = twin_result("numba", x, w, b, geometry, groups, np.cos)
    parallel.set_num_threads(2)
    two_threads.clear()
    parts = twin_result("numba", x, w, b, geometry, groups, np.cos)
    assert two_threads == [2, 2]                        # forward and backward each split in two
    for a, c in zip(whole, parts):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@needs_numba
@pytest.mark.parametrize("options,shapes", [
    (dict(padding=(0, 0), stride=(1, 1), dilation=(1, 1), groups=1), ((9, 3, 8, 9), (5, 3, 3, 2))),
    (dict(padding=(1, 2), stride=(2, 1), dilation=(1, 2), groups=2), ((9, 4, 9, 8), (6, 2, 3, 2))),
    (dict(padding=(2, 2), stride=(1, 1), dilation=(1, 1), groups=1),     # dx by taps
     ((9, 2, 7, 7), (3, 2, 5, 5))),
    (dict(padding=(1, 0), stride=(1, 1), dilation=(1, 1), groups=1),     # dx by correlation
     ((9, 6, 5, 5), (2, 6, 3, 3)))])
def test_blocks_of_samples_give_the_whole_batch_result(monkeypatch, options, shapes):
    """`cols` unfolded, multiplied and folded back a block of samples at a time (the last block
    shorter) equals the whole batch at once, for each way of computing dx."""
    rng = np.random.default_rng(14)
    x, w, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1]), \
        rng.standard_normal(shapes[1][0])
    geometry, groups = geometry_of(x, w, options), options["groups"]
    sample_bytes = w[0].size * groups * geometry.OH * geometry.OW * x.itemsize
    monkeypatch.setattr(K, "COLS_BLOCK_BYTES", 10 ** 9)
    whole = twin_result("numba", x, w, b, geometry, groups, np.cos)
    monkeypatch.setattr(K, "COLS_BLOCK_BYTES", 2 * sample_bytes)        # blocks of 2 samples
    monkeypatch.setattr(K, "MIN_BLOCK_SAMPLES", 2)
    unfolds = count_calls(monkeypatch, "im2col_numba")
    K.conv2d_forward_numba(x, w, b, geometry, groups, keep_cols=False)
    assert len(unfolds) == 5                                            # 2 + 2 + 2 + 2 + 1
    blocks = twin_result("numba", x, w, b, geometry, groups, np.cos)
    for a, c in zip(whole, blocks):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


def test_which_parts_go_in_blocks_of_samples():
    block = K.COLS_BLOCK_BYTES
    per_block = K.MIN_BLOCK_SAMPLES
    sample = block // per_block
    many = slice(3, 3 + 5 * per_block)                  # 5 blocks' worth of columns
    assert K.sample_blocks(many, sample) == [slice(a, a + per_block) for a in
                                             range(3, many.stop, per_block)]
    few = slice(3, 3 + 4 * per_block)                   # 4 blocks' worth: whole
    assert K.sample_blocks(few, sample) == [few]
    assert K.sample_blocks(many, sample + 1) == [many]  # fewer samples to a block: whole
    assert K.sample_blocks(slice(0, 0), 1) == [slice(0, 0)]             # an empty batch


def count_calls(monkeypatch, name):
    """Count the calls kernels/conv.py makes to `name` (a kernel of im2col.py, or its own)."""
    calls, real = [], getattr(K, name)
    monkeypatch.setattr(K, name, lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    return calls


@needs_numba
def test_dx_folded_one_sample_at_a_time_equals_all_at_once(monkeypatch):
    rng = np.random.default_rng(13)
    x, w, b = rng.standard_normal((3, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2)), \
        rng.standard_normal(6)
    options = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    whole, _ = run_conv_with("numba", x, w, b, **options)
    monkeypatch.setattr(K, "DCOLS_ELEMENTS", 1)                     # a block of one sample
    folds = count_calls(monkeypatch, "col2im_numba")
    blocks, _ = run_conv_with("numba", x, w, b, **options)
    assert len(folds) == 3
    for a, c in zip(whole, blocks):
        np.testing.assert_array_equal(a, c)


def test_narrowing_layer_takes_the_correlation_path():
    for (OC, C), geometry, groups, expected in [
            ((128, 256), (3, 3, 7, 7, 1, 1, 1, 1, 1, 1), 1, True),     # AlexNet-lite conv5
            ((192, 256), (3, 3, 7, 7, 1, 1, 2, 1, 1, 1), 1, True),     # pad = k-1 on one side
            ((256, 256), (3, 3, 7, 7, 1, 1, 1, 1, 1, 1), 1, False),    # OC == C: col2im
            ((128, 256), (3, 3, 4, 4, 2, 2, 1, 1, 1, 1), 1, False),    # stride 2
            ((128, 256), (3, 3, 5, 5, 1, 1, 1, 1, 2, 2), 1, False),    # dilation 2
            ((64, 256), (3, 3, 7, 7, 1, 1, 1, 1, 1, 1), 2, False),     # groups
            ((128, 256), (3, 3, 9, 9, 1, 1, 3, 3, 1, 1), 1, False)]:   # padding > k-1
        weight_shape = (OC, C // groups, 3, 3)
        assert K.dx_by_correlation(weight_shape, kernels.Geometry(*geometry), groups) == expected


@needs_numba
@given(narrowing_cases())
def test_narrowing_layer_unfolds_dy_instead_of_folding_dcols(case):
    """dx by correlation: im2col of x, then of dY, and no col2im; equal to the readable twin."""
    x, w, b, pad = case
    options = dict(padding=pad, stride=(1, 1), dilation=(1, 1), groups=1)
    geometry = geometry_of(x, w, options)
    with pytest.MonkeyPatch.context() as monkeypatch:
        unfolds, folds = (count_calls(monkeypatch, name) for name in ("im2col_numba", "col2im_numba"))
        fast = twin_result("numba", x, w, b, geometry, 1, np.cos)
    assert (len(unfolds), len(folds)) == (2, 0)
    for a, c in zip(twin_result("numpy", x, w, b, geometry, 1, np.cos), fast):
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12)


def test_layers_that_keep_the_image_size_with_few_output_channels_take_the_taps_path():
    for (OC, C, K_), (H, W), geometry, groups, expected in [
            ((6, 1, 5), (28, 28), (28, 28, 1, 1, 2, 2, 1, 1), 1, True),     # LeNet conv1
            ((16, 6, 5), (14, 14), (10, 10, 1, 1, 0, 0, 1, 1), 1, False),   # LeNet conv2: valid
            ((16, 3, 3), (8, 9), (8, 9, 1, 1, 0, 2, 1, 1), 1, True),        # asymmetric 'same'
            ((32, 3, 3), (8, 8), (8, 8, 1, 1, 1, 1, 1, 1), 1, False),       # OC > 16
            ((8, 3, 7), (8, 8), (8, 8, 1, 1, 3, 3, 1, 1), 1, False),        # 7x7
            ((8, 3, 3), (8, 8), (4, 4, 2, 2, 1, 1, 1, 1), 1, False),        # stride 2
            ((8, 2, 3), (8, 8), (8, 8, 1, 1, 1, 1, 1, 1), 2, False)]:       # groups
        geometry = kernels.Geometry(K_, K_, *geometry)
        assert K.dx_by_taps((OC, C, K_, K_), (2, C * groups, H, W), geometry, groups) == expected


@st.composite
def taps_cases(draw):
    """x, w, b and a 'same' geometry (stride 1, padding top+bottom = KH-1, maybe uneven) with
    a 3x3 or 5x5 kernel and OC <= 16 output channels, at least as many as C."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    OC = draw(st.integers(C, 16))
    KH = KW = draw(st.sampled_from([3, 5]))
    H, W = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    PT, PL = draw(st.integers(0, KH - 1)), draw(st.integers(0, KW - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, w, b = (rng.standard_normal(s) for s in ((N, C, H, W), (OC, C, KH, KW), (OC,)))
    return x, w, b, conv_geometry(x.shape, (KH, KW), (1, 1), (PT, KH - 1 - PT, PL, KW - 1 - PL),
                                  (1, 1))


@needs_numba
@given(taps_cases(), st.sampled_from([np.float64, np.float32]),
       st.sampled_from([(True, True, True), (True, False, False)]))
def test_dx_by_taps_equals_the_readable_twin(case, dtype, needs):
    x, w, b, geometry = (a.astype(dtype) if isinstance(a, np.ndarray) else a for a in case)
    with pytest.MonkeyPatch.context() as monkeypatch:
        taps = count_calls(monkeypatch, "_dx_taps")
        fast = twin_result("numba", x, w, b, geometry, 1, np.cos, needs)
    assert len(taps) >= 1                               # (once per part of the batch)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for readable, result in zip(twin_result("numpy", x, w, b, geometry, 1, np.cos, needs), fast):
        assert (readable is None) == (result is None)
        if readable is not None:
            assert result.dtype == dtype
            np.testing.assert_allclose(result, readable, rtol=tolerance, atol=tolerance)


@needs_numba
def test_recycled_buffers_never_leak_between_graphs():
    """Two live graphs of the same shape, backpropagated out of order and twice (retain_graph):
    each must keep its own `cols` (scratch buffers come back only when the op lets go of them)."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((4, 3, 3, 3))
    xs = [rng.standard_normal((2, 3, 6, 6)) for _ in range(3)]
    dy = np.cos(np.arange(2 * 4 * 36)).reshape(2, 4, 6, 6)
    with kernels.use_backend("numba"):
        expected = []
        for x in xs:
            tx, tw = leaf(x), leaf(w)
            conv2d(tx, tw, padding=1).backward(dy)
            expected.append((tx.grad, tw.grad))
        leaves = [(leaf(x), leaf(w)) for x in xs]
        ys = [conv2d(tx, tw, padding=1) for tx, tw in leaves]       # three graphs alive at once
        ys[1].backward(dy, retain_graph=True)
        ys[1].backward(dy)                                          # twice: gradients add up
        ys[2].backward(dy)
        conv2d(leaf(xs[0]), leaf(w), padding=1).backward(dy)        # reuses graph 2's buffers
        ys[0].backward(dy)
    for i, ((tx, tw), (gx, gw)) in enumerate(zip(leaves, expected)):
        factor = 2 if i == 1 else 1
        np.testing.assert_allclose(tx.grad, factor * gx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tw.grad, factor * gw, rtol=1e-12, atol=1e-12)


@needs_numba
def test_kept_columns_go_back_to_the_pool_when_the_op_lets_go(monkeypatch):
    given_back = []
    monkeypatch.setattr(K.scratch, "give", given_back.append)
    x, w = np.ones((2, 3, 6, 6)), np.ones((4, 3, 3, 3))
    geometry = conv_geometry(x.shape, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    y, cols = K.conv2d_forward_numba(x, w, None, geometry, 1, keep_cols=True)
    kept = list(cols)
    given_back.clear()                          # the GEMM output went back in forward
    del cols
    assert len(given_back) == len(kept) and all(a is b for a, b in zip(given_back, kept))


@given(st.integers(1, 200), st.integers(0, 60_000), st.integers(1, 128))
def test_column_slices_cover_the_columns_and_fit_the_small_gemm_kernel(rows, L, outputs):
    """In order, no gap or overlap; sliced only into pieces of outputs * rows * width within
    OpenBLAS's small-kernel limit and at least MIN_SLICE_COLUMNS wide, else one piece."""
    slices = K.column_slices(rows, L, outputs)
    covered = [i for s in slices for i in range(L)[s]]
    assert covered == list(range(L))
    if len(slices) > 1:
        width = slices[0].stop - slices[0].start
        assert outputs * rows * width <= K.SMALL_GEMM_LIMIT
        assert width >= K.MIN_SLICE_COLUMNS and width % 16 == 0


def test_lenet_conv1_is_sliced_and_conv2_is_not():
    assert len(K.column_slices(25, 64 * 28 * 28, 6)) > 1               # 1 -> 6, 5x5
    assert len(K.column_slices(50, 64 * 28 * 28, 6)) > 1               # a 2-channel input too
    assert len(K.column_slices(150, 64 * 10 * 10, 16)) == 1            # 6 -> 16, 5x5
