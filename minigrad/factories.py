"""New tensors, with PyTorch's names and arguments: tensor, zeros ones full empty, rand randn
randint, arange linspace eye, their *_like forms, from_numpy and as_tensor.

    x = minigrad.zeros(2, 3)                       # or zeros((2, 3)); float32 by default
    i = minigrad.randint(0, 10, (5,))              # int64, as torch's integer factories
    w = minigrad.randn(3, 4, requires_grad=True)

As in PyTorch, everything after the sizes is keyword-only: `dtype=` (minigrad.float64,
minigrad.long ...), `device=` (the CPU only, see devices.py) and `requires_grad=`; all of them are
checked before anything is made or drawn. The random factories draw from the generator that
`minigrad.manual_seed` seeds (nn/init.py's, shared with the initialisers and dropout), so a seeded
run repeats itself; the numbers are NumPy's, not the ones torch draws for the same seed.
"""
import numbers

import numpy as np

from minigrad.devices import check_device
from minigrad.dtypes import as_dtype, bool_, float32, int64
from minigrad.nn.init import generator
from minigrad.ops.elementwise import cast
from minigrad.ops.shape import size_arguments
from minigrad.tensor import Tensor, as_array


def _checked(op, dtype, device, requires_grad, default=float32):
    """The dtype to make (`default` if none is given), once device and requires_grad are known
    to be possible with it."""
    check_device(device, op)
    dtype = default if dtype is None else as_dtype(dtype, op)
    if requires_grad and dtype is not None and dtype.kind != "f":
        raise TypeError(f"{op}: only floating-point tensors can require gradients; the dtype "
                        f"is {dtype}")
    return dtype


def _shape(sizes, op):
    """The shape from size arguments given as f(2, 3) or f((2, 3))."""
    shape = size_arguments(sizes, op)
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: sizes must be >= 0, got {shape}")
    return shape


def _size_tuple(size, op):
    """The shape from a `size` that must be one tuple (or list), as in full and randint."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{op}: size must be a tuple of ints such as (2, 3) or (5,), got "
                        f"{size!r}")
    return _shape((size,), op)


def tensor(data, *, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (numbers, nested lists, an array or a tensor), as
    torch.tensor: Python floats become float32, integers int64, and an array keeps its dtype."""
    dtype = _checked("tensor", dtype, device, requires_grad, default=None)
    if isinstance(data, (Tensor, np.ndarray)):            # a copy, never a view of the original
        data = np.array(as_array(data))
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _filled(op, make, shape, dtype, device, requires_grad):
    """make(shape, dtype) as a new tensor, once the arguments are checked (float32 by default)."""
    dtype = _checked(op, dtype, device, requires_grad)
    return Tensor(make(shape, dtype), requires_grad=requires_grad)


def _random(op, draw, shape, dtype, device, requires_grad):
    """draw(generator, shape, dtype) as a new tensor: floating dtypes only, as torch's rand."""
    dtype = _checked(op, dtype, device, requires_grad)
    if dtype.kind != "f":
        raise TypeError(f"{op}: draws floating-point numbers; got dtype {dtype} (for random "
                        f"integers use randint)")
    return Tensor(draw(generator(), shape, dtype), requires_grad=requires_grad)


def _uniform(rng, shape, dtype):
    return rng.random(shape, dtype)


def _normal(rng, shape, dtype):
    return rng.standard_normal(shape, dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros: zeros(2, 3) or zeros((2, 3))."""
    return _filled("zeros", np.zeros, _shape(size, "zeros"), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones: ones(2, 3) or ones((2, 3))."""
    return _filled("ones", np.ones, _shape(size, "ones"), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor whose values are whatever its new memory held (fill it before reading it)."""
    return _filled("empty", np.empty, _shape(size, "empty"), dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Samples of uniform[0, 1): rand(2, 3) or rand((2, 3))."""
    return _random("rand", _uniform, _shape(size, "rand"), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Samples of the standard normal distribution: randn(2, 3) or randn((2, 3))."""
    return _random("randn", _normal, _shape(size, "randn"), dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of `size` (a tuple) filled with fill_value; without a dtype, that of the value
    as in PyTorch: a bool gives bool, an int int64, a float float32."""
    return _full("full", _size_tuple(size, "full"), fill_value, dtype, device, requires_grad)


def _full(op, shape, fill_value, dtype, device, requires_grad):
    if isinstance(fill_value, Tensor) and fill_value.numel() == 1:
        fill_value = fill_value.item()
    if not isinstance(fill_value, (numbers.Number, np.generic)):
        raise TypeError(f"{op}: fill_value must be a number, got {type(fill_value).__name__}")
    if dtype is None:
        dtype = bool_ if isinstance(fill_value, (bool, np.bool_)) else \
            int64 if isinstance(fill_value, numbers.Integral) else float32
    dtype = _checked(op, dtype, device, requires_grad)
    return Tensor(np.full(shape, fill_value, dtype), requires_grad=requires_grad)


def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad=False):
    """Random integers in [low, high) (int64), as torch: randint(high, size) or
    randint(low, high, size), size a tuple."""
    if size is None:                                    # randint(high, size)
        low, high, size = 0, low, high
    return _randint("randint", low, high, _size_tuple(size, "randint"), int64 if dtype is None
                    else dtype, device, requires_grad)


def _randint(op, low, high, shape, dtype, device, requires_grad):
    dtype = _checked(op, dtype, device, requires_grad)
    if not all(isinstance(n, numbers.Integral) for n in (low, high)) or low >= high:
        raise ValueError(f"{op}: expected integers low < high, got low={low!r}, high={high!r}")
    values = generator().integers(low, high, shape, dtype=np.int64)
    return Tensor(values.astype(dtype, copy=False), requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... up to end (excluded), as torch: arange(end) or
    arange(start, end, step). int64 if all three are integers, else float32."""
    if end is None:
        start, end = 0, start
    given = (start, end, step)
    if not all(isinstance(n, (numbers.Real, np.number)) for n in given):
        raise TypeError(f"arange: start, end and step must be numbers, got {given}")
    if step == 0 or (end - start) * step < 0:
        raise ValueError(f"arange: a step of {step} never gets from {start} to {end}")
    integers = all(isinstance(n, numbers.Integral) for n in given)
    dtype = _checked("arange", int64 if integers and dtype is None else dtype, device,
                     requires_grad)
    values = np.arange(start, end, step, dtype=np.int64 if integers else np.float64)
    return Tensor(values.astype(dtype, copy=False), requires_grad=requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end, both included (float32 by default)."""
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be an integer >= 0, got {steps!r}")
    dtype = _checked("linspace", dtype, device, requires_grad)
    values = np.linspace(start, end, steps, dtype=np.float64)
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The n x m identity matrix (n x n without m): ones on the diagonal."""
    shape = _shape((n, n if m is None else m), "eye")
    return _filled("eye", lambda shape, dtype: np.eye(*shape, dtype=dtype), shape, dtype, device,
                   requires_grad)


# ----- the *_like forms: input's shape, and its dtype unless another is given -------------------
def _like(input, dtype, op):
    """(shape, dtype) for a *_like factory: input's, the dtype unless one is given."""
    if not isinstance(input, (Tensor, np.ndarray)):
        raise TypeError(f"{op}: expected a tensor whose shape and dtype to copy, got "
                        f"{type(input).__name__}")
    return input.shape, input.dtype if dtype is None else dtype


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(input, dtype, "zeros_like")
    return _filled("zeros_like", np.zeros, shape, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(input, dtype, "ones_like")
    return _filled("ones_like", np.ones, shape, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(input, dtype, "empty_like")
    return _filled("empty_like", np.empty, shape, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(input, dtype, "full_like")
    return _full("full_like", shape, fill_value, dtype, device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(input, dtype, "rand_like")
    return _random("rand_like", _uniform, shape, dtype, device, requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(input, dtype, "randn_like")
    return _random("randn_like", _normal, shape, dtype, device, requires_grad)


def randint_like(input, low, high=None, *, dtype=None, device=None, requires_grad=False):
    """Random integers in [low, high) (or [0, low) without high) in input's shape and dtype."""
    shape, dtype = _like(input, dtype, "randint_like")
    low, high = (0, low) if high is None else (low, high)
    return _randint("randint_like", low, high, shape, dtype, device, requires_grad)


# ----- from NumPy --------------------------------------------------------------------------------
def from_numpy(ndarray):
    """A tensor sharing memory with the NumPy array, as torch.from_numpy: a change to either shows
    in the other. Its dtype is the array's (float32, float64, integers or bool)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__} "
                        f"(for lists and numbers use minigrad.tensor)")
    as_dtype(ndarray.dtype, "from_numpy")            # float16, complex ... cannot be shared
    return Tensor(ndarray)


def as_tensor(data, *, dtype=None, device=None):
    """data as a tensor, copying only if it must, as torch.as_tensor: a tensor of that dtype is
    returned itself, an array of it is shared (from_numpy), anything else is converted."""
    check_device(device, "as_tensor")
    dtype = as_dtype(dtype, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None or dtype == data.dtype else cast(data, dtype)
    if isinstance(data, np.ndarray) and dtype in (None, data.dtype):
        return from_numpy(data)
    return Tensor(data, dtype=dtype)
