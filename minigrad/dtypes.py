"""dtypes with PyTorch's names (`minigrad.float32`, `minigrad.long` ...); reading a dtype argument.

A Tensor's dtype is NumPy's, so these names are NumPy dtypes: `x.dtype == minigrad.float32` and
`x.dtype == np.float32` are both True. PyTorch's other names for them are given on the top
package (`minigrad/__init__.py`): `float` is float32 and `double` float64, `long` int64, `int`
int32 and `bool` bool. (Python's own `float` and `int`, passed as `dtype=float`, mean float64 and
int64, in PyTorch too.)
"""
import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

# What `x.type()` returns, as PyTorch names the CPU tensor types (and `x.type(name)` accepts).
TYPE_NAMES = {float32: "torch.FloatTensor", float64: "torch.DoubleTensor",
              np.dtype(np.int8): "torch.CharTensor", np.dtype(np.uint8): "torch.ByteTensor",
              np.dtype(np.int16): "torch.ShortTensor", int32: "torch.IntTensor",
              int64: "torch.LongTensor", bool_: "torch.BoolTensor"}
_BY_TYPE_NAME = {name: dtype for dtype, name in TYPE_NAMES.items()}


def as_dtype(dtype, op):
    """A dtype argument as the NumPy dtype it names (None stays None), or a TypeError.

    Takes minigrad's names, NumPy's dtypes and type names (np.float64, "float64"), Python's
    float, int and bool, and PyTorch's type names ("torch.LongTensor"). Refuses what a tensor here
    cannot hold: float16, complex, strings, objects.
    """
    if dtype is None:
        return None
    if type(dtype).__module__.startswith("torch"):
        raise TypeError(f"{op}: {dtype} comes from torch; minigrad's dtypes are NumPy's, named "
                        f"minigrad.float32, minigrad.long ... (torch.float32 where minigrad is "
                        f"imported as torch)")
    if isinstance(dtype, str) and dtype in _BY_TYPE_NAME:
        return _BY_TYPE_NAME[dtype]
    try:
        result = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {dtype!r} is not a dtype; expected one such as minigrad.float32, "
                        f"minigrad.float64, minigrad.long or minigrad.bool") from None
    if result not in TYPE_NAMES and result.kind not in "iu":
        raise TypeError(f"{op}: minigrad's tensors hold float32, float64, integers or bool; "
                        f"{result} is not one of them")
    return result


def type_name(dtype):
    """PyTorch's name of the tensor type of `dtype` ("torch.FloatTensor"), for `x.type()`."""
    return TYPE_NAMES.get(np.dtype(dtype), f"numpy.{np.dtype(dtype)}")
