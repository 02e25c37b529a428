"""The `Function` base class: one node of the computation graph.

Every differentiable operation in minigrad is a subclass of `Function` with two methods that work
on plain NumPy arrays:

    forward(*arrays, **params)  -> output array       (remember what backward will need on self)
    backward(grad)              -> one gradient per input, dL/d(input) from grad = dL/d(output)

`Function.apply` is the glue between arrays and Tensors: it unwraps the inputs, runs `forward`,
wraps the result in a Tensor and, when a gradient is wanted, records the node in the graph so that
`Tensor.backward` can later call `backward` (through `input_grads`).

Broadcasting is undone here, once, for every op: a binary op's `backward` may return its gradient
in the broadcast shape of the output, and `input_grads` sums it back to each input's own shape
with `unbroadcast`. No op calls `unbroadcast` itself.
"""
from __future__ import annotations

import contextlib
import os
import traceback

import numpy as np

from minigrad.tensor import Tensor, is_grad_enabled

_detect_anomaly = False      # set by `detect_anomaly()`; off, it costs one test per op


class Function:
    """Base class of every op. Subclasses implement `forward` and `backward` on ndarrays."""

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors (or array-likes, treated as constants; None passes through)."""
        tensors = _as_tensors(inputs)
        fn = cls()
        fn.needs_input_grad = tuple(t is not None and t.requires_grad for t in tensors)
        output = fn.forward(*(None if t is None else t.data for t in tensors), **params)
        if _detect_anomaly:
            _check_forward(fn, tensors, output)
        requires_grad = is_grad_enabled() and any(fn.needs_input_grad)
        result = Tensor(output, requires_grad=requires_grad)
        _share_memory_versions(result, tensors)
        if requires_grad:
            fn.inputs = tensors
            fn.input_versions = tuple(None if t is None else t._version for t in tensors)
            fn.output_version = result._version
            fn.freed = False
            result._ctx = fn
        return result

    def input_grads(self, grad):
        """(input, dL/d(input)) for each input that wants a gradient, given grad = dL/d(output).

        The chain rule is `backward`'s; this adds only the bookkeeping every op shares: a single
        gradient becomes a 1-tuple, inputs that need none are skipped, and each gradient is
        summed back to its input's shape (the backward of broadcasting).
        """
        grads = self.backward(grad)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if _detect_anomaly:
            _check_backward(self, grad, grads)
        for tensor_in, grad_in in zip(self.inputs, grads):
            if tensor_in is None or grad_in is None or not tensor_in.requires_grad:
                continue
            grad_in = unbroadcast(np.asarray(grad_in), tensor_in.shape)
            if grad_in.shape != tensor_in.shape:
                raise RuntimeError(f"{self!r}.backward returned a gradient of shape "
                                   f"{grad_in.shape} for an input of shape {tensor_in.shape}")
            yield tensor_in, grad_in

    def release(self):
        """Drop the buffers saved for backward (called after backward unless retain_graph=True)."""
        kept = {"inputs": self.inputs, "needs_input_grad": self.needs_input_grad}
        self.__dict__.clear()
        self.__dict__.update(kept, freed=True)

    @property
    def next_functions(self):
        """The nodes backward goes to next, one (node, 0) per input, as PyTorch prints them: the
        Function that made the input, an AccumulateGrad for a leaf that requires grad, or None
        for a constant."""
        return tuple((_node_of(t), 0) for t in self.inputs)

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}>"


class AccumulateGrad:
    """The end of a backward path: adds the gradient into a leaf's `.grad` (PyTorch's name)."""
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


def _node_of(tensor):
    if tensor is None or not tensor.requires_grad:
        return None
    return tensor._ctx if tensor._ctx is not None else AccumulateGrad(tensor)
class detect_anomaly(contextlib.ContextDecorator):
    """Context manager and decorator, like PyTorch's anomaly mode: inside it, every op checks
    its output in forward and the gradients it returns in backward, and the first one that holds
    a NaN or an infinity raises FloatingPointError naming the op, the shapes, and the line of
    code that called it. Off (the default) it costs one test of a flag per op.

        with mg.detect_anomaly():
            loss = F.cross_entropy(model(x), y)
            loss.backward()
    """

    def __init__(self, mode=True):
        self.mode = mode

    def __enter__(self):
        global _detect_anomaly
        self._previous = _detect_anomaly
        _detect_anomaly = bool(self.mode)

    def __exit__(self, *exc):
        global _detect_anomaly
        _detect_anomaly = self._previous
        return False


def set_detect_anomaly(mode):
    """Switch anomaly detection on or off for the rest of the program (see `detect_anomaly`)."""
    global _detect_anomaly
    _detect_anomaly = bool(mode)


def is_anomaly_enabled():
    return _detect_anomaly


def _check_forward(fn, tensors, output):
    """In anomaly mode: raise if this op's output holds NaN or inf, saying whether its inputs
    already did (then the problem came from outside: the data or the parameters)."""
    fn.called_from = _caller()
    if np.isfinite(output).all():
        return
    inputs = [f"input {i} (shape {t.shape}) held {_count_non_finite(t.data)}"
              for i, t in enumerate(tensors) if t is not None and not np.isfinite(t.data).all()]
    cause = ("; its inputs were finite, so this op produced them" if not inputs else
             "; but its " + ", ".join(inputs) + " already: they came from the data or the "
             "parameters")
    raise FloatingPointError(f"detect_anomaly: the output of {fn!r} (forward, shape "
                             f"{np.shape(output)}) holds {_count_non_finite(output)}{cause}; "
                             f"called from {fn.called_from}")


def _check_backward(fn, grad, grads):
    """In anomaly mode: raise if this op's backward returned a NaN or inf gradient."""
    for index, grad_in in enumerate(grads):
        if grad_in is not None and not np.isfinite(grad_in).all():
            incoming = "finite" if np.isfinite(grad).all() else _count_non_finite(grad)
            raise FloatingPointError(
                f"detect_anomaly: {fn!r}.backward returned a gradient for input {index} "
                f"(shape {np.shape(grad_in)}) that holds {_count_non_finite(grad_in)}; the "
                f"gradient it was given was {incoming}; the op was called from "
                f"{getattr(fn, 'called_from', 'an unknown place')}")


def _count_non_finite(array):
    array = np.asarray(array)
    return f"{int(np.isnan(array).sum())} NaN and {int(np.isinf(array).sum())} inf values"


_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_ENGINE = [os.path.join(_PACKAGE, name) for name in ("function.py", "tensor.py", "ops")]


def _caller():
    """'file:line in function' of the code that called the op: the innermost frame outside the
    engine and the ops (a layer's forward, or your own code), and the innermost outside minigrad."""
    frames = traceback.extract_stack()[:-3]
    outside_engine = next((f for f in reversed(frames)
                           if not any(f.filename.startswith(e) for e in _ENGINE)), None)
    outside_package = next((f for f in reversed(frames)
                            if not f.filename.startswith(_PACKAGE)), None)
    places = [f"{_short(f.filename)}:{f.lineno} in {f.name}"
              for f in (outside_engine, outside_package) if f is not None]
    return ", in ".join(dict.fromkeys(places)) or "unknown"


def _short(filename):
    """minigrad's files as 'minigrad/nn/layers.py', others relative to the working directory."""
    if filename.startswith(_PACKAGE):
        return os.path.relpath(filename, os.path.dirname(_PACKAGE))
    relative = os.path.relpath(filename)
    return filename if relative.startswith("..") else relative




def _as_tensors(inputs):
    """Wrap non-Tensor inputs as constant Tensors in the dtype of the first floating Tensor.

    Without this, `x * 2.0` on a float32 `x` would turn into float64 (a 0-d float64 array is not a
    "weak" scalar for NumPy type promotion).
    """
    dtype = next((x.dtype for x in inputs
                  if isinstance(x, Tensor) and np.issubdtype(x.dtype, np.floating)), None)
    wrapped = []
    for x in inputs:
        if x is None or isinstance(x, Tensor):
            wrapped.append(x)
        else:
            wrapped.append(Tensor(np.asarray(x, dtype=dtype)))
    return tuple(wrapped)


def _share_memory_versions(result, tensors):
    """An op that returns a view of an input (reshape, transpose, x[1:]) makes the two count
    in-place changes together, so changing one is seen by the ops that recorded the other."""
    if result.data.base is None:
        return
    for tensor in tensors:
        if tensor is not None and np.may_share_memory(result.data, tensor.data):
            result._count_changes_with(tensor)
            return


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: the backward of NumPy broadcasting.

    When an input of shape (3, 1) was broadcast to (5, 3, 4) in forward, each of its elements was
    used 5 * 4 times, so its gradient is the sum over those copies: sum over the leading axis that
    broadcasting added, and over every axis where the input had size 1.
    """
    if grad.shape == tuple(shape):
        return grad
    if not shape:                 # NumPy's full sum is a scalar; a 0-d parameter needs an array
        return np.asarray(grad.sum())
    added_axes = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(added_axes))) if added_axes > 0 else grad
    stretched = tuple(i for i, n in enumerate(shape)
                      if n == 1 and i < grad.ndim and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
