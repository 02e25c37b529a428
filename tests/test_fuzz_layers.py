"""A fuzzed `nn` layer API: every layer, in training and eval mode, on inputs of random shapes
(N = 0 included), dtypes and values (a NaN or an inf somewhere, sometimes). Every call must
either return a result -- torch's, wherever torch has the layer -- or raise an error from one of
minigrad's own `raise` statements, with a message; nothing may escape from NumPy or Numba
internals, and a refused call must leave the layer as it was."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from tests.test_fuzz_functional import DTYPES, FUZZ, outcome

try:                          # the refusals are checked without torch; its answers only with it
    import torch
except ModuleNotFoundError:
    torch = None


def torch_twin(state, theirs):
    """`theirs` with the parameters and buffers `state` of a minigrad layer."""
    theirs.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()},
                           strict=True)
    return theirs


# name -> (minigrad layer, its torch twin or None, the input's number of dims (min, max))
LAYERS = {
    "Linear": (lambda: nn.Linear(3, 2), lambda: torch.nn.Linear(3, 2), (1, 3)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1), lambda: torch.nn.Conv2d(2, 3, 3, padding=1),
               (3, 5)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (3, 5)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (3, 5)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(1), lambda: torch.nn.AdaptiveAvgPool2d(1),
                          (3, 5)),
    "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), None, (3, 5)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(2), lambda: torch.nn.BatchNorm1d(2), (1, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), lambda: torch.nn.BatchNorm2d(2), (3, 5)),
    "LayerNorm": (lambda: nn.LayerNorm(3), lambda: torch.nn.LayerNorm(3), (1, 4)),
    "Dropout": (lambda: nn.Dropout(0.5), None, (0, 4)),
    "Flatten": (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (1, 5)),
    "Identity": (lambda: nn.Identity(), lambda: torch.nn.Identity(), (0, 4)),
    "ReLU": (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (0, 4)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1), (0, 4)),
    "Tanh": (lambda: nn.Tanh(), lambda: torch.nn.Tanh(), (0, 4)),
    "Sigmoid": (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), (0, 4)),
    "GELU": (lambda: nn.GELU(), lambda: torch.nn.GELU(), (0, 4)),
    "Softmax": (lambda: nn.Softmax(1), lambda: torch.nn.Softmax(1), (0, 4)),
    "LogSoftmax": (lambda: nn.LogSoftmax(-1), lambda: torch.nn.LogSoftmax(-1), (0, 4)),
    "Embedding": (lambda: nn.Embedding(5, 2), lambda: torch.nn.Embedding(5, 2), (0, 3)),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2, batch_first=True),
                           lambda: torch.nn.MultiheadAttention(4, 2, batch_first=True), (2, 4)),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0,
                                                                   batch_first=True),
                                None, (2, 4)),
    "SqueezeExcitation": (lambda: nn.attention.SqueezeExcitation(4, 2), None, (3, 5)),
    "SpatialAttention": (lambda: nn.attention.SpatialAttention(3), None, (3, 5)),
    "CBAM": (lambda: nn.attention.CBAM(4, 2, 3), None, (3, 5)),
    "BcosLinear": (lambda: nn.BcosLinear(3, 2), None, (1, 3)),
    "BcosConv2d": (lambda: nn.BcosConv2d(2, 2, 3, padding=1), None, (3, 5)),
    "BasicBlock": (lambda: nn.BasicBlock(2, 2), None, (3, 5)),
}


@st.composite
def layer_inputs(draw, ndims):
    """An input whose shape mostly fits the layers (sides 0-4, often 2, 3 or 4 on each axis),
    of any dtype, maybe holding a NaN or an inf."""
    shape = draw(st.lists(st.sampled_from([0, 1, 2, 3, 4, 4, 2, 3]), min_size=ndims[0],
                          max_size=ndims[1]))
    dtype = draw(DTYPES)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = np.asarray(rng.standard_normal(shape) * 2).astype(dtype)
    if x.size and np.issubdtype(dtype, np.floating) and draw(st.booleans()):
        x.flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
    if draw(st.integers(0, 9)) == 0:          # now and then a shape no layer takes
        x = x[..., None]
    return x


def close(ours, theirs, dtype):
    tolerance = 1e-4 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance, equal_nan=True)


@FUZZ
@pytest.mark.parametrize("name", sorted(LAYERS))
@given(data=st.data())
def test_a_layer_returns_torch_s_answer_or_says_what_is_wrong(name, data):
    make, make_twin, ndims = LAYERS[name]
    mg.manual_seed(0)
    layer = make()
    x = data.draw(layer_inputs(ndims))
    if name == "Embedding" and data.draw(st.booleans()):
        x = np.random.default_rng(x.size).integers(-1, 6, x.shape)  # indices, some out of range
    training = data.draw(st.booleans())
    layer.train(training)
    if np.issubdtype(x.dtype, np.floating) and x.dtype != np.float16:
        layer = layer.double() if x.dtype == np.float64 else layer
    before = {key: np.array(value) for key, value in layer.state_dict().items()}
    inputs = (mg.tensor(x),) * (3 if name == "MultiheadAttention" else 1)
    y = outcome(lambda: layer(*inputs))
    if y is None:                                   # refused: nothing changed
        for key, value in layer.state_dict().items():
            np.testing.assert_array_equal(value, before[key], err_msg=key)
        return
    y = y[0] if isinstance(y, tuple) else y
    # (torch's GELU(inf) is NaN on the CPU; minigrad's is inf, the limit: only that differs)
    comparable = torch is not None and make_twin is not None and (x.dtype in (np.float32, np.float64) or
                                            name == "Embedding") and \
        not (name == "GELU" and np.isinf(x).any())
    if not comparable:
        return
    twin = torch_twin(before, make_twin()).train(training)
    if x.dtype == np.float64:
        twin = twin.double()
    with torch.no_grad():
        expected = twin(*(torch.from_numpy(x),) * len(inputs))
    expected = expected[0] if isinstance(expected, tuple) else expected
    close(y.numpy(), expected.numpy(), x.dtype)
    for key, value in layer.state_dict().items():          # running statistics too
        close(np.asarray(value), twin.state_dict()[key].numpy(), x.dtype)
