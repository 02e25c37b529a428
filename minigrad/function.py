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

Gradients of gradients (`backward(create_graph=True)`, `minigrad.autograd.grad`) need the
backward itself recorded as a graph. `backward` works on arrays and records nothing, so an op
that can be differentiated twice has a second method beside it, its second-order rule:

    differentiable_backward(grad, output, *inputs) -> the same gradients as `backward`, built
        with Tensor ops from the Tensors grad = dL/d(output), output and inputs (so recorded)

The first-order path never calls it (it pays one test per op for it). An op without one gets the
default below: the right gradient values, in a node that refuses, naming the op, to be
differentiated again (never a silent zero).
"""
from __future__ import annotations

import numpy as np

from minigrad.tensor import Tensor, is_grad_enabled

# minigrad/anomaly.py's checks while `detect_anomaly()` is on, else None: one test per op
anomaly_checks = None


class Function:
    """Base class of every op. Subclasses implement `forward` and `backward` on ndarrays."""

    # True for an op that is piecewise linear in its inputs (ReLU, a reshape, a max): saliency's
    # `linearize` reads a network through such ops only. A product says so with a method instead,
    # piecewise_linear(varies) -> bool, given which inputs vary with the network's input.
    piecewise_linear = False
    # Why this node may not be differentiated (a message), or None: see NoSecondOrder.
    refusal = None

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def differentiable_backward(self, grad, output, *inputs):
        """The default for an op without a second-order rule: `backward`'s values, each in a
        NoSecondOrder node that refuses to be differentiated."""
        grads = self.backward(grad.data)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return tuple(None if g is None else
                     NoSecondOrder.apply(grad, *inputs, value=np.asarray(g), op=self.name())
                     for g in grads)

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors (or array-likes, treated as constants; None passes through)."""
        tensors = _as_tensors(inputs)
        fn = cls()
        fn.needs_input_grad = tuple(t is not None and t.requires_grad for t in tensors)
        output = fn.forward(*(None if t is None else t.data for t in tensors), **params)
        if anomaly_checks is not None:
            anomaly_checks.forward(fn, tensors, output)
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

    def input_grads(self, grad, output=None):
        """(input, dL/d(input)) for each input that wants a gradient, given grad = dL/d(output).

        The chain rule is `backward`'s; this adds only the bookkeeping every op shares: a single
        gradient becomes a 1-tuple, inputs that need none are skipped, and each gradient is
        summed back to its input's shape (the backward of broadcasting). Given the `output`
        Tensor (create_graph=True), grad is a Tensor and the rule is `differentiable_backward`'s:
        the gradients are Tensors, recorded (anomaly mode then checks the ops that make them).
        """
        if output is None:
            grads = self.backward(grad)
        else:
            grads = self.differentiable_backward(grad, output, *self.inputs)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if anomaly_checks is not None and output is None:
            anomaly_checks.backward(self, grad, grads)
        for tensor_in, grad_in in zip(self.inputs, grads):
            if tensor_in is None or grad_in is None or not tensor_in.requires_grad:
                continue
            if output is None:
                grad_in = np.asarray(grad_in)
            grad_in = unbroadcast(grad_in, tensor_in.shape)
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


class NoSecondOrder(Function):
    """A gradient computed by `op`, which has no second-order rule: the value is right, but its
    own backward is refused, naming the op, before any gradient changes (a zero would be wrong).
    Its inputs are the incoming gradient and the op's inputs: whatever the value depends on."""

    def forward(self, grad, *inputs, value, op):
        self.refusal = (f"{op} has no second-order rule: its gradient (computed with "
                        f"create_graph=True) cannot be differentiated again")
        return value

    def backward(self, grad):
        raise NotImplementedError(self.refusal)


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


def _as_tensors(inputs):
    """Wrap non-Tensor inputs as constant Tensors in the dtype of the first floating Tensor.

    Without this, `x * 2.0` on a float32 `x` would turn into float64 (a 0-d float64 array is not a
    "weak" scalar for NumPy type promotion).
    """
    if all(x is None or isinstance(x, Tensor) for x in inputs):
        return inputs                   # the common case, every op of a network: nothing to wrap
    dtype = next((x.dtype for x in inputs if isinstance(x, Tensor) and x.dtype.kind == "f"),
                 None)
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
    broadcasting added, and over every axis where the input had size 1. (`grad` may be an array
    or, under create_graph, a Tensor: the same sums, recorded.)
    """
    if grad.shape == tuple(shape):
        return grad
    if not shape:                 # NumPy's full sum is a scalar; a 0-d parameter needs an array
        return grad.sum(axis=None, keepdims=True).reshape(())
    added_axes = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(added_axes))) if added_axes > 0 else grad
    stretched = tuple(i for i, n in enumerate(shape)
                      if n == 1 and i < grad.ndim and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
