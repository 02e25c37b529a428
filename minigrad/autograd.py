"""`minigrad.autograd.Function`: PyTorch's way to write your own op, on top of minigrad's.

    class Exp(minigrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):
            y, = ctx.saved_tensors
            return grad_output * y              # d exp(x) / dx = exp(x)

    y = Exp.apply(x)

Two protocols, one mechanism. minigrad's own `Function` (minigrad/function.py, the base of every
op in ops/) has methods on NumPy arrays and keeps what backward needs on `self`. PyTorch's, here,
has static methods on Tensors and keeps it on a separate `ctx`. The bridge is `_Node`, a minigrad
Function: its forward and backward call yours, wrapping the arrays as Tensors and unwrapping
what you return, and it checks that backward returns one gradient of the right shape per input.

With create_graph=True (here, or in `grad`, torch.autograd.grad's twin) your backward runs while
recording, as in PyTorch: written with Tensor ops on what forward received or returned, its
gradients can be differentiated again. A tensor saved from inside forward is a constant to it,
so then the gradients are refused a second differentiation instead (never a silent zero).
"""
import copy

from minigrad.checks import broadcasts_to
from minigrad.function import Function as _MinigradFunction
from minigrad.gradcheck import gradcheck, gradgradcheck  # noqa: F401  (torch.autograd's places)
from minigrad.tensor import Tensor, grad, no_grad  # noqa: F401  (grad: torch.autograd.grad)

__all__ = ["Function", "FunctionCtx", "grad", "gradcheck", "gradgradcheck"]


class FunctionCtx:
    """The `ctx` your forward fills and your backward reads: `save_for_backward(*tensors)` and
    `saved_tensors`; `needs_input_grad`, one bool per argument of forward (False for those that
    are not Tensors); and any attribute you set (`ctx.k = k`)."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *tensors):
        for position, tensor in enumerate(tensors):
            if tensor is not None and not isinstance(tensor, Tensor):
                raise TypeError(f"save_for_backward saves Tensors (or None), but argument "
                                f"{position} is a {type(tensor).__name__}; keep other values "
                                f"as attributes of ctx (ctx.name = value)")
        self.saved_tensors = tensors

    def mark_dirty(self, *tensors):
        _not_here("mark_dirty", "minigrad records no in-place op: return a new tensor instead "
                                "of changing an input in place")

    def mark_non_differentiable(self, *tensors):
        _not_here("mark_non_differentiable", "minigrad's Functions have one output; return "
                                             "the non-differentiable result from a separate call")

    def set_materialize_grads(self, value):
        _not_here("set_materialize_grads", "backward always receives a gradient Tensor here")


def _not_here(name, instead):
    raise NotImplementedError(f"ctx.{name} is not supported by minigrad.autograd.Function: "
                              f"{instead}")


class Function:
    """Base class of an op written as in PyTorch: subclass it, define the two static methods,
    and call `YourFunction.apply(*args)`.

    forward(ctx, *args) -> Tensor: the args as given (Tensors and anything else); it runs
        without recording a graph, so its Tensor operations cost no memory for backward.
    backward(ctx, grad_output) -> one gradient per argument of forward: a Tensor of that
        argument's shape, or None (always None for arguments that are not Tensors).

    Or, PyTorch 2's split style: forward(*args) without ctx, plus
    setup_context(ctx, inputs, output), which fills ctx. minigrad's Functions have one output,
    so forward returns a single Tensor.
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a subclass of minigrad.autograd.Function must define "
                                  "@staticmethod forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a subclass of minigrad.autograd.Function must define "
                                  "@staticmethod backward(ctx, grad_output)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError   # never called unless a subclass defines it

    @classmethod
    def apply(cls, *args):
        """Run forward on args and record the call in the graph, as PyTorch's apply."""
        tensors = [arg for arg in args if isinstance(arg, Tensor)]
        return _Node.apply(*tensors, function=cls, args=args)

    def __call__(self, *args):
        raise TypeError(f"call {type(self).__name__}.apply(...), not an instance of it: forward "
                        f"and backward are static methods, as in PyTorch")


def _splits_setup_context(function):
    return function.setup_context is not Function.setup_context


class _Node(_MinigradFunction):
    """One call of a `minigrad.autograd.Function` in the graph: minigrad's engine calls this
    node's forward and backward on arrays; they call the user's on Tensors."""

    def forward(self, *arrays, function, args):
        # `arrays` are the Tensor arguments' values; the user's forward wants the args as given
        self.function, self.args = function, args
        self.ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            if _splits_setup_context(function):
                output = function.forward(*args)
                function.setup_context(self.ctx, args, output)
            else:
                output = function.forward(self.ctx, *args)
        if not isinstance(output, Tensor):
            raise TypeError(f"{function.__name__}.forward returned a {type(output).__name__}; "
                            f"it must return one Tensor (minigrad's Functions have one output)")
        self.output = output
        return output.data

    def backward(self, grad):
        with no_grad():
            return self._checked(self.function.backward(self.ctx, Tensor(grad)))

    def differentiable_backward(self, grad, output, *tensors):
        """Your backward on Tensors, recorded, with ctx's saved output as this node's output
        (so that it carries the graph). A floating-point tensor saved from inside forward is a
        constant to it: then the default, a gradient refused a second differentiation."""
        known = {id(arg) for arg in self.args if isinstance(arg, Tensor)} | {id(self.output)}
        if any(t is not None and id(t) not in known and t.dtype.kind == "f"
               for t in self.ctx.saved_tensors):
            return super().differentiable_backward(grad, output, *tensors)
        ctx = copy.copy(self.ctx)
        ctx.saved_tensors = tuple(output if t is self.output else t for t in ctx.saved_tensors)
        return self._checked(self.function.backward(ctx, grad), recorded=True)

    def _checked(self, grads, recorded=False):
        """What your backward returned, checked: one gradient per Tensor argument of forward."""
        grads = grads if isinstance(grads, tuple) else (grads,)
        self._check_count(grads)
        return tuple(self._gradient(position, arg, grad_arg, recorded)
                     for position, (arg, grad_arg) in enumerate(zip(self.args, grads))
                     if isinstance(arg, Tensor))

    def _check_count(self, grads):
        """One gradient per argument of forward; extra ones may only be None (as in PyTorch)."""
        name, expected = self.function.__name__, len(self.args)
        if len(grads) < expected or any(g is not None for g in grads[expected:]):
            raise RuntimeError(f"{name}.backward returned {len(grads)} gradient(s); forward took "
                               f"{expected} argument(s), and backward must return one for each "
                               f"(None for those that need none)")
        for position, (arg, grad_arg) in enumerate(zip(self.args, grads)):
            if grad_arg is not None and not isinstance(arg, Tensor):
                raise RuntimeError(f"{name}.backward returned a gradient for argument "
                                   f"{position} of forward, a {type(arg).__name__}, not a "
                                   f"Tensor; return None in its place")

    def _gradient(self, position, tensor, grad, recorded=False):
        """The array the engine needs (a Tensor, when recorded): of the input's shape (or one it
        broadcast to, which the engine sums back) and dtype, as PyTorch casts it."""
        if grad is None:
            return None
        name = self.function.__name__
        if not isinstance(grad, Tensor):
            raise TypeError(f"{name}.backward returned a {type(grad).__name__} for argument "
                            f"{position}; it must return a Tensor or None")
        if not broadcasts_to(tensor.shape, grad.shape):
            raise ValueError(f"{name}.backward returned a gradient of shape {grad.shape} for "
                             f"argument {position} of forward, of shape {tensor.shape}")
        if recorded:
            return grad if grad.dtype == tensor.dtype else grad.astype(tensor.dtype)
        return grad.data.astype(tensor.dtype, copy=False)

    def release(self):
        """Free ctx, the arguments and the output after backward, keeping the name that repr
        shows."""
        function = self.function
        super().release()
        self.function = function

    def name(self):
        return f"{self.function.__name__}Backward"       # PyTorch's name for the node

    def __repr__(self):
        return f"<{self.name()}>"


