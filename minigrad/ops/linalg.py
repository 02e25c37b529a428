"""Matrix product, with NumPy's rules for 1-D operands and broadcast batch dimensions."""
import math

import numpy as np

from minigrad.function import Function
from minigrad.kernels import parallel
from minigrad.ops._args import as_array, check_floating
from minigrad.ops.shape import Transpose, reshape


class MatMul(Function):
    """C = A @ B;  dL/dA = dL/dC @ B^T,  dL/dB = A^T @ dL/dC.

    1-D operands are promoted the NumPy way -- a vector on the left is a (1, n) row, on the right
    an (n, 1) column -- so one formula covers every case. Batch dimensions broadcast; the engine
    sums their gradient back to each operand's own batch shape.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return product(a, b)

    def backward(self, grad):
        a = self.a[None, :] if self.a.ndim == 1 else self.a     # (..., m, n)
        b = self.b[:, None] if self.b.ndim == 1 else self.b     # (..., n, p)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        grad = grad.reshape(batch + (a.shape[-2], b.shape[-1]))  # (..., m, p)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = product(grad, np.swapaxes(b, -1, -2))               # (..., m, n)
            grad_a = grad_a[..., 0, :] if self.a.ndim == 1 else grad_a
        if self.needs_input_grad[1]:
            grad_b = product(np.swapaxes(a, -1, -2), grad)               # (..., n, p)
            grad_b = grad_b[..., 0] if self.b.ndim == 1 else grad_b
        return grad_a, grad_b


# products below this many multiply-adds run whole: at tiny_vit's sizes (1088 x 64 x 192, 13M)
# handing out the parts cost more than they saved (its step 29 ms split, 22 ms whole;
# benchmarks/README.md, "why the halves did not overlap")
MIN_SPLIT_MACS = 2 ** 24


def product(a, b):
    """a @ b, computed in parts on minigrad's threads (kernels/parallel.py) when it is big: the
    rows of a 2-D product, or the first batch axis of a stack of products that share it. Each
    part is an independent a[part] @ b, so the parts need no sum afterwards."""
    stacked = a.ndim == b.ndim >= 3 and a.shape[0] == b.shape[0]
    if not (stacked or a.ndim == b.ndim == 2):
        return a @ b
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    if math.prod(shape) * a.shape[-1] < MIN_SPLIT_MACS:
        return a @ b
    out = np.empty(shape, dtype=np.result_type(a, b))

    def work(part):
        np.matmul(a[part], b[part] if stacked else b, out=out[part])
    parallel.map(work, parallel.split(a.shape[0], out.size))
    return out


def matmul(a, b):
    a_shape, b_shape = np.shape(getattr(a, "data", a)), np.shape(getattr(b, "data", b))
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, "
                         f"got shapes {a_shape} and {b_shape}")
    inner_a = a_shape[-1]
    inner_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if inner_a != inner_b:
        raise ValueError(f"matmul: shapes {a_shape} and {b_shape} are not aligned: "
                         f"{inner_a} (last axis of the first) != {inner_b} "
                         f"({'only' if len(b_shape) == 1 else 'second-to-last'} axis of the second)")
    try:
        np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a_shape} and {b_shape} "
                         f"cannot be broadcast together") from None
    return MatMul.apply(a, b)


def linear(x, weight, bias=None):
    """y = x @ weight^T + bias, as torch.nn.functional.linear: x (..., in), weight (out, in),
    bias (out,) or None -> y (..., out). Built from matmul and add, so its backward is theirs.

    Leading axes are merged first: NumPy multiplies a stack (N, L, in) @ (in, out) one (L, in)
    matrix at a time, and the weight's gradient would then be N products summed afterwards."""
    x_shape, w_shape = np.shape(getattr(x, "data", x)), np.shape(getattr(weight, "data", weight))
    if len(w_shape) != 2:
        raise ValueError(f"linear: expected a weight of shape (out_features, in_features), got "
                         f"{w_shape}")
    if len(x_shape) == 0 or x_shape[-1] != w_shape[1]:
        raise ValueError(f"linear: expected an input of shape (..., {w_shape[1]}) for a weight "
                         f"of shape {w_shape}, got {x_shape}")
    # as torch.nn.functional.linear: integer inputs (e.g. uint8 pixels) are refused, not promoted
    check_floating(as_array(x), "linear")
    if bias is not None and np.shape(getattr(bias, "data", bias)) != w_shape[:1]:
        raise ValueError(f"linear: expected a bias of shape {w_shape[:1]}, got "
                         f"{np.shape(getattr(bias, 'data', bias))}")
    if len(x_shape) > 2:       # (N, L, in) -> (N * L, in): one GEMM, and dW needs no batch sum
        y = matmul(reshape(x, (-1, w_shape[1])), Transpose.apply(weight, axes=None))
        y = reshape(y, x_shape[:-1] + (w_shape[0],))
    else:
        y = matmul(x, Transpose.apply(weight, axes=None))
    return y if bias is None else y + bias
