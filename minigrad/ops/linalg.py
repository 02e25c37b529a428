"""Matrix product, with NumPy's rules for 1-D operands and broadcast batch dimensions."""
import numpy as np

from minigrad import kernels
from minigrad.checks import check_floating
from minigrad.function import Function
from minigrad.ops._args import as_array
from minigrad.ops.shape import reshape, transpose


class MatMul(Function):
    """C = A @ B;  dL/dA = dL/dC @ B^T,  dL/dB = A^T @ dL/dC.

    1-D operands are promoted the NumPy way -- a vector on the left is a (1, n) row, on the right
    an (n, 1) column -- so one formula covers every case. Batch dimensions broadcast; the engine
    sums their gradient back to each operand's own batch shape.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return kernels.matmul(a, b)                 # kernels/gemm.py

    def backward(self, grad):
        a = self.a[None, :] if self.a.ndim == 1 else self.a     # (..., m, n)
        b = self.b[:, None] if self.b.ndim == 1 else self.b     # (..., n, p)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        grad = grad.reshape(batch + (a.shape[-2], b.shape[-1]))  # (..., m, p)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = kernels.matmul(grad, np.swapaxes(b, -1, -2))         # (..., m, n)
            grad_a = grad_a[..., 0, :] if self.a.ndim == 1 else grad_a
        if self.needs_input_grad[1]:
            grad_b = kernels.matmul(np.swapaxes(a, -1, -2), grad)         # (..., n, p)
            grad_b = grad_b[..., 0] if self.b.ndim == 1 else grad_b
        return grad_a, grad_b

    def differentiable_backward(self, grad, c, a, b):
        """d2C/dA dB = the identity pairing (C is bilinear), d2C/dA2 = d2C/dB2 = 0: the same two
        matrix products, recorded (vectors made matrices by reshapes)."""
        a2 = reshape(a, (1, -1)) if a.ndim == 1 else a                   # (..., m, n)
        b2 = reshape(b, (-1, 1)) if b.ndim == 1 else b                   # (..., n, p)
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        grad = reshape(grad, batch + (a2.shape[-2], b2.shape[-1]))      # (..., m, p)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = MatMul.apply(grad, transpose(b2, -1, -2))               # (..., m, n)
            grad_a = reshape(grad_a, grad_a.shape[:-2] + a.shape) if a.ndim == 1 else grad_a
        if self.needs_input_grad[1]:
            grad_b = MatMul.apply(transpose(a2, -1, -2), grad)               # (..., n, p)
            grad_b = reshape(grad_b, grad_b.shape[:-2] + b.shape) if b.ndim == 1 else grad_b
        return grad_a, grad_b

    def piecewise_linear(self, varies):
        """Bilinear: linear in the input that varies while the other factor is constant."""
        return sum(varies) <= 1


def matmul(input, other):
    """input @ other: torch.matmul, with its argument names (matmul(input=x, other=w) works)."""
    a, b = input, other
    a_shape, b_shape = as_array(a).shape, as_array(b).shape
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


def mm(input, mat2):
    """The product of two matrices, as torch.mm: both 2-D (matmul takes vectors and batches)."""
    shapes = np.shape(input), np.shape(mat2)          # np.shape reads a Tensor's shape too
    if len(shapes[0]) != 2 or len(shapes[1]) != 2:
        raise ValueError(f"mm: expected two matrices (2-D), got shapes {shapes[0]} and "
                         f"{shapes[1]}; for vectors or batches use matmul (@)")
    return matmul(input, mat2)


class Linear(Function):
    """y = x @ W^T + b, one node for the whole layer: x (..., in), W (out, in), b (out,) or None.
    dL/dx = dL/dy @ W,  dL/dW = dL/dy^T @ x,  dL/db = dL/dy summed over every axis but the last.

    Leading axes are merged first: NumPy multiplies a stack (N, L, in) @ (in, out) one (L, in)
    matrix at a time, and the weight's gradient would then be N products summed afterwards.
    """

    def forward(self, x, weight, bias):
        rows = int(np.prod(x.shape[:-1]))                          # M = N * ... (0 allowed)
        self.x2 = x.reshape(rows, weight.shape[1])                 # (M, in)
        self.weight, self.x_shape = weight, x.shape
        y = kernels.matmul(self.x2, weight.T)                      # (M, in) @ (in, out)
        if bias is not None:      # in place where the dtype allows: y is this op's own array
            y = np.add(y, bias, out=y if np.result_type(y, bias) == y.dtype else None)
        return y.reshape(x.shape[:-1] + weight.shape[:1])          # (..., out)

    def backward(self, grad):
        grad = grad.reshape(-1, self.weight.shape[0])              # (M, out)
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            grad_x = kernels.matmul(grad, self.weight).reshape(self.x_shape)   # (M, in)
        if self.needs_input_grad[1]:
            grad_w = kernels.matmul(grad.T, self.x2)               # (out, M) @ (M, in)
        if self.needs_input_grad[2]:
            grad_b = grad.sum(axis=0)                              # (out,)
        return grad_x, grad_w, grad_b

    def differentiable_backward(self, grad, y, x, weight, bias):
        """The same three products, recorded (linear in each input: no second-order terms of
        its own)."""
        grad = reshape(grad, (-1, weight.shape[0]))
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            grad_x = reshape(MatMul.apply(grad, weight), x.shape)
        if self.needs_input_grad[1]:
            grad_w = MatMul.apply(transpose(grad, 0, 1), reshape(x, (-1, weight.shape[1])))
        if self.needs_input_grad[2]:
            grad_b = grad.sum(axis=0)
        return grad_x, grad_w, grad_b

    def piecewise_linear(self, varies):
        """Bilinear in x and W, plus b: affine while x and W do not both vary."""
        return not (varies[0] and varies[1])


def linear(x, weight, bias=None):
    """y = x @ weight^T + bias, as torch.nn.functional.linear: x (..., in), weight (out, in),
    bias (out,) or None -> y (..., out). One op, `Linear`."""
    x_shape, w_shape = as_array(x).shape, as_array(weight).shape
    if len(w_shape) != 2:
        raise ValueError(f"linear: expected a weight of shape (out_features, in_features), got "
                         f"{w_shape}")
    if len(x_shape) == 0 or x_shape[-1] != w_shape[1]:
        raise ValueError(f"linear: expected an input of shape (..., {w_shape[1]}) for a weight "
                         f"of shape {w_shape}, got {x_shape}")
    # as torch.nn.functional.linear: integer inputs (e.g. uint8 pixels) are refused, not promoted
    check_floating(as_array(x), "linear")
    check_floating(as_array(weight), "linear", "weight")
    if bias is not None and as_array(bias).shape != w_shape[:1]:
        raise ValueError(f"linear: expected a bias of shape {w_shape[:1]}, got "
                         f"{as_array(bias).shape}")
    return Linear.apply(x, weight, bias)
