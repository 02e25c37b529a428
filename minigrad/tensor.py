"""`Tensor`: an ndarray that remembers how it was made, and `backward()` that walks that memory.

A Tensor holds
    data  -- the values, a NumPy array (float32 unless you give float64 or an integer type)
    grad  -- dL/d(this tensor) after `backward()`: a Tensor of the same shape that does not
             require grad (as in PyTorch, so `w.grad.zero_()` works), or None
    _ctx  -- the `Function` node that produced it (None for leaves: inputs and parameters)

Arithmetic on Tensors goes through `Function.apply`, which records each op; `backward()` then visits
those ops from the output back to the leaves and applies the chain rule at every node.
"""
from __future__ import annotations

import contextlib

import numpy as np

_grad_enabled = True


def is_grad_enabled():
    """True unless inside a `no_grad()` block."""
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """no_grad and enable_grad: graph recording switched to `recording` inside a `with` block or
    a decorated function, and back to what it was after. As torch's, they decorate with or
    without parentheses: `@no_grad()` or `@no_grad`."""

    recording = None

    def __new__(cls, orig_func=None):
        if orig_func is None:                  # no_grad(): the context manager itself
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}(...) takes no argument, or decorates a function "
                            f"when written bare (@{cls.__name__}); got "
                            f"{type(orig_func).__name__}")
        return cls()(orig_func)                # bare @no_grad: decorate the function

    def _recreate_cm(self):
        # A decorated function gets a fresh context per call, so that a recursive call, which
        # enters again before it leaves, restores the state it found (one shared instance
        # would end with recording switched off for good).
        return type(self)()

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self.recording

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous
        return False


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record no graph (inference, optimizer steps)."""

    recording = False

    def __init__(self):                        # as torch's: no_grad() takes no argument
        super().__init__()


class enable_grad(_GradMode):
    """Turn graph recording back on inside a `no_grad()` block (e.g. a saliency pass)."""

    recording = True


class RemovableHandle:
    """Returned by `register_hook`: call `remove()` to take the hook away again."""

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


NUMBER_KINDS = "biuf"      # NumPy's kind letters of bool, signed and unsigned integer, floating


def _to_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) and dtype is None and data.dtype.kind in NUMBER_KINDS \
            and data.dtype != np.float16:
        return data           # the common case (every op's output): nothing to convert
    from_python = not isinstance(data, (np.ndarray, np.generic))
    try:
        array = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as error:        # ragged lists, dtype='foo', 'abc' as float
        raise type(error)(f"tensor: cannot make an array of numbers from "
                          f"{_describe(data)}{'' if dtype is None else f' as {dtype!r}'}: "
                          f"{error}") from None
    if array.dtype.kind not in NUMBER_KINDS:
        raise TypeError(f"tensor: expected numbers (bool, integer or floating point), got dtype "
                        f"{array.dtype} from {_describe(data)}")
    # Python floats and float16 become float32, the library's default; float64 arrays stay float64.
    if dtype is None and (array.dtype == np.float16 or (from_python and array.dtype == np.float64)):
        array = array.astype(np.float32)
    return array


def _describe(data):
    text = repr(data)
    return f"{type(data).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


class Tensor:
    # Make NumPy hand `ndarray (op) Tensor` over to Tensor's reflected operators (the ops layer
    # replaces this with ops/numpy_interop.py's dispatch).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _to_array(data, dtype)
        self._grad = None
        self._ctx = None
        self._hooks = []
        self._retains_grad = False
        self._version_counter = [0]    # in-place changes of this memory (shared by its views)
        self.requires_grad = requires_grad

    # ----- basic properties -------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and self.data.dtype.kind != "f":       # kind 'f': float16/32/64, not complex
            raise TypeError(f"only floating-point tensors can require gradients; "
                            f"got dtype {self.data.dtype}")
        self._requires_grad = bool(value)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def size(self, dim=None):
        """The shape, as PyTorch's `x.size()`; `x.size(1)` is the length of axis 1. (NumPy's
        `a.size`, the number of elements, is `x.numel()` here.)"""
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        """The number of elements."""
        return self.data.size

    def dim(self):
        """The number of axes (`x.ndim`)."""
        return self.data.ndim

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def __len__(self):
        return len(self.data)

    def item(self):
        return self.data.item()

    # ----- a one-element tensor as a Python number: int(x), float(x), `if x:`, names[x] -------
    def _single_value(self, error, message):
        """The one value of a tensor that holds exactly one (of any shape), else `error`."""
        if self.data.size != 1:
            raise error(f"{message}; this tensor has {self.data.size} elements (shape "
                        f"{self.shape}): pick one with x[i], or reduce it with x.sum(), x.any() ...")
        return self.data.item()

    def __bool__(self):
        return bool(self._single_value(RuntimeError, "the truth value of a tensor is defined "
                                                     "only for a single element (as in PyTorch)"))

    def __int__(self):
        return int(self._single_value(ValueError, "int(x): only a one-element tensor can be "
                                                  "converted to a Python number"))

    def __float__(self):
        return float(self._single_value(ValueError, "float(x): only a one-element tensor can be "
                                                    "converted to a Python number"))

    def __index__(self):
        """names[x], range(x): integer (or bool) tensors of one element only, as in PyTorch."""
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"only an integer tensor of one element can be used as an index; "
                            f"this one is {self.dtype} (convert it with x.long() or int(x))")
        return int(self._single_value(TypeError, "only an integer tensor of one element can be "
                                                 "used as an index"))

    def numpy(self):
        """The values as an ndarray (shared memory: do not modify it in place)."""
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        """np.asarray(x), plt.imshow(x) ... see the values, as with a PyTorch tensor (the
        result is a plain array: no gradient flows through NumPy functions)."""
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    @property
    def grad(self):
        """dL/d(this tensor), summed over every backward() since it was last cleared: a Tensor
        that does not require grad, or None. (Inside the engine gradients are plain arrays;
        this wraps them once, at the leaves. With backward(create_graph=True) they are Tensors
        all along, and .grad keeps their graph.)"""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, (Tensor, np.ndarray)):
                raise TypeError(f"assigned grad expected to be a Tensor (or an ndarray) or None, "
                                f"got {type(value).__name__} (as in PyTorch); to clear it write "
                                f"x.grad = None, to zero it x.grad.zero_()")
            value = value if isinstance(value, Tensor) else Tensor(value)
            if value.shape != self.shape or value.dtype != self.dtype:
                raise ValueError(f"assigned grad has shape {value.shape} and dtype "
                                 f"{value.dtype}; this tensor has shape {self.shape} and dtype "
                                 f"{self.dtype}, and its gradient must match both")
        self._grad = value

    def _accumulate_grad(self, grad):
        """Add the array `grad` into .grad (backward accumulates, as in PyTorch). A Tensor
        `grad` (create_graph=True) is added out of place, so .grad keeps its graph (a clone
        at first: two leaves must not share one .grad)."""
        if isinstance(grad, Tensor):
            self._grad = grad.clone() if self._grad is None else self._grad + grad
        elif self._grad is None:
            self._grad = Tensor(grad.astype(self.dtype, copy=True))
        else:
            self._grad.data = self._grad.data + grad

    def detach(self):
        """A new leaf Tensor sharing the values (and their version counter), cut off from the
        graph."""
        detached = Tensor(self.data)
        detached._count_changes_with(self)
        return detached

    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retains_grad = True

    def register_hook(self, hook):
        """Call `hook(grad)` (a Tensor) when this tensor's gradient is known; a returned Tensor
        replaces it."""
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", precision=4)
        extra = f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # ----- in-place changes ---------------------------------------------------------------------
    def _check_inplace(self, op_name, value=None):
        """Refuse an in-place change that a gradient would need to know about (PyTorch's rule).

        Allowed under `no_grad()`, or on a tensor outside any graph. Refused: a tensor that
        requires grad (a parameter, or an op's result) while grad is recorded, and a value that
        requires grad (minigrad records no in-place op, so its gradient would be lost).
        """
        if not is_grad_enabled():
            return
        if self.requires_grad:
            what = ("a leaf tensor that requires grad (a parameter)" if self._ctx is None else
                    f"a tensor that is part of a graph (made by {self._ctx!r})")
            raise RuntimeError(f"{op_name}: in-place change of {what} while gradients are "
                               f"recorded; for an update such as p -= lr * p.grad, do it inside "
                               f"`with minigrad.no_grad():`, else write x = x - ... (a new tensor)")
        if isinstance(value, Tensor) and value.requires_grad:
            raise RuntimeError(f"{op_name}: the value written in place requires grad, and "
                               f"minigrad records no in-place op, so its gradient would be lost; "
                               f"build the result as a new tensor (x = x + v, cat, stack, where)")

    @property
    def _version(self):
        """How many in-place changes this tensor's memory has seen (as torch's `_version`)."""
        return self._version_counter[0]

    def _mark_changed(self):
        """Called after every in-place change: ops recorded before it now hold stale values."""
        self._version_counter[0] += 1

    def _count_changes_with(self, other):
        """Share `other`'s version counter: this tensor is a view of its memory, so a change of
        either is a change of both (as torch's views and detach())."""
        self._version_counter = other._version_counter

    # ----- backward ---------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute d(self)/d(leaf) for every leaf that requires grad, accumulating into `.grad`.

        `gradient` is dL/d(self) (an array or Tensor of self's shape); it may be omitted only
        when self holds a single number (then 1). The graph's saved buffers are freed afterwards
        unless `retain_graph=True`. `inputs`, as in PyTorch: accumulate into these tensors only.
        `create_graph=True` records the backward itself, so each `.grad` is a Tensor with a
        graph that can be differentiated again (then retain_graph defaults to True, as torch's).
        That graph holds the leaf whose .grad holds the graph: as torch advises, prefer
        `autograd.grad` there, or set .grad = None when done, so that the memory goes at once.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: "
                               "no input of the computation had requires_grad=True")
        grad = self._initial_grad(gradient, create_graph)
        order = nodes_behind(self)
        _check_graph_intact(order)
        only = None if inputs is None else _chosen_inputs(inputs, order)
        retain_graph = create_graph if retain_graph is None else retain_graph
        for node, node_grad in chain_rule(order, {id(self): grad}, retain_graph, create_graph):
            keeps_grad = node._ctx is None or node._retains_grad
            if keeps_grad if only is None else id(node) in only:
                node._accumulate_grad(node_grad)

    def _initial_grad(self, grad, create_graph=False):
        """dL/d(self) to start from: an array, or (create_graph) a Tensor, which may itself
        carry a graph."""
        if grad is None:
            if self.numel() != 1:
                raise RuntimeError(f"backward() needs a `gradient` argument for a non-scalar "
                                   f"output (shape {self.shape}); pass dL/d(output) of that shape "
                                   f"(autograd.grad: in grad_outputs)")
            grad = np.ones_like(self.data)
        array = _to_array(grad, self.dtype)
        if array.shape != self.shape:
            raise ValueError(f"backward(): gradient has shape {array.shape}, expected "
                             f"{self.shape}")
        if not create_graph:
            return array
        return grad if isinstance(grad, Tensor) and grad.dtype == self.dtype else Tensor(array)

    def _run_hooks(self, grad):
        """grad after this tensor's hooks: an array, or a Tensor when the backward is recorded."""
        recorded = isinstance(grad, Tensor)
        for hook in list(self._hooks):
            replaced = hook(grad if recorded else Tensor(grad))
            if replaced is None:
                continue
            if not recorded:
                replaced = np.asarray(as_array(replaced), dtype=self.dtype)
            if replaced.shape != self.shape:
                raise ValueError(f"hook {getattr(hook, '__qualname__', hook)!r} returned a "
                                 f"gradient of shape {replaced.shape}; this tensor has shape "
                                 f"{self.shape}, and a hook's gradient must have the same shape")
            grad = replaced
        return grad

    # Arithmetic (x + y, x @ w, x[i]) and the methods that mirror the functional API (x.sum(),
    # x.relu(), x.reshape(...)) are the ops' own functions, attached to Tensor by
    # minigrad/ops/methods.py: the engine knows no op, and the ops import the engine, never the
    # other way round.

    # Comparisons (x < y, x == y ...) are ops too: they give bool Tensors, attached by methods.py.
    # A Tensor stays hashable by identity (a dict key, a set member), as in PyTorch.
    __hash__ = object.__hash__

    @property
    def T(self):
        """All axes reversed (a matrix transposed)."""
        return self.permute()


def clear_grad(tensor, set_to_none=True):
    """What zero_grad does to one tensor: .grad = None, or (set_to_none=False) zeros in place."""
    if set_to_none or tensor.grad is None:
        tensor.grad = None
    else:
        tensor.grad.data[...] = 0
        tensor.grad._mark_changed()


def as_array(x):
    """The values of a Tensor (its ndarray), or anything else through np.asarray: the one helper
    that unwraps a Tensor, for the ops, the layers and saliency alike."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def nodes_behind(*roots):
    """The graph behind a result: every tensor that `root` depends on and that requires grad
    (root included), each after its inputs (given several roots, the graph behind them all).
    With `tensor.grad_fn` (the op that made a tensor, None for a leaf) and `op.inputs`, this is
    the public way to walk a graph (viz, saliency).

    Why a topological sort? A tensor's gradient is the *sum* of the gradients flowing back from
    every op that used it, so it may be passed on only once all of those ops have been visited.
    Visiting in reverse topological order guarantees exactly that. The walk uses an explicit stack
    instead of recursion, so a chain of 100,000 ops does not hit Python's recursion limit.
    """
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            stack.extend((t, False) for t in node._ctx.inputs
                         if t is not None and t.requires_grad and id(t) not in visited)
    return order


def chain_rule(order, grads, retain_graph, create_graph):
    """Yield (tensor, dL/d(tensor)) for every tensor of `order` that a gradient reaches, from the
    outputs back to the leaves; `grads` holds dL/d(output) by id(output).

    The gradients are arrays; with create_graph they are Tensors, every step is recorded
    (each op's `differentiable_backward` instead of its `backward`), and so the gradients can
    be differentiated again."""
    with enable_grad() if create_graph else contextlib.nullcontext():
        for node in reversed(order):
            node_grad = grads.pop(id(node), None)
            if node_grad is None:
                continue
            node_grad = node._run_hooks(node_grad)
            yield node, node_grad
            if node._ctx is None:
                continue
            # the chain rule at this node: its op turns dL/d(node) into dL/d(each input) ...
            for tensor_in, grad_in in node._ctx.input_grads(node_grad,
                                                            node if create_graph else None):
                key = id(tensor_in)       # ... and a tensor used twice gets the sum of both
                grads[key] = grad_in if key not in grads else grads[key] + grad_in
            if not retain_graph:
                node._ctx.release()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, *,
         allow_unused=False):
    """d(outputs)/d(inputs), as torch.autograd.grad: a tuple with one gradient per input,
    leaving every `.grad` alone. `grad_outputs` are dL/d(output) (may be omitted for outputs
    of one element); with create_graph=True the gradients carry a graph, so they can be
    differentiated again (retain_graph then defaults to True). An input that the outputs do
    not depend on is an error, or None with allow_unused=True (keyword-only: torch's argument
    in that position is its deprecated only_inputs)."""
    outputs, inputs = _as_tuple(outputs, "outputs"), _as_tuple(inputs, "inputs")
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else \
        _as_tuple(grad_outputs, "grad_outputs")
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for index, output in enumerate(outputs):
        if not output.requires_grad:
            raise RuntimeError(f"grad: output {index} does not require grad: no input of its "
                               f"computation had requires_grad=True")
    for index, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: input {index} does not require grad, so it has no "
                               f"gradient to compute")
    order = nodes_behind(*outputs)
    _check_graph_intact(order)
    grads = {}
    for output, grad_output in zip(outputs, grad_outputs):
        start = output._initial_grad(grad_output, create_graph)
        grads[id(output)] = start if id(output) not in grads else grads[id(output)] + start
    wanted = {id(tensor) for tensor in inputs}
    retain_graph = create_graph if retain_graph is None else retain_graph
    found = {id(node): node_grad for node, node_grad
             in chain_rule(order, grads, retain_graph, create_graph) if id(node) in wanted}
    return tuple(_found_gradient(found, tensor, index, create_graph, allow_unused)
                 for index, tensor in enumerate(inputs))


def _as_tuple(values, name):
    """One value or a list or tuple of them, as a tuple; outputs and inputs must be Tensors."""
    values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
    if name != "grad_outputs" and not all(isinstance(v, Tensor) for v in values):
        raise TypeError(f"grad: {name} must be a Tensor or a sequence of Tensors")
    return values


def _found_gradient(found, tensor, index, create_graph, allow_unused):
    """What grad() returns for one input: its gradient as a Tensor, or None where unused."""
    if id(tensor) not in found:
        if allow_unused:
            return None
        raise RuntimeError(f"grad: input {index} (shape {tensor.shape}) was not used to "
                           f"compute the outputs; pass allow_unused=True to get None for it")
    gradient = found[id(tensor)]
    return gradient if create_graph else Tensor(np.array(gradient, dtype=tensor.dtype))


def _chosen_inputs(inputs, order):
    """The ids of backward(inputs=...): tensors the output depends on, each requiring grad."""
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    reached = {id(node) for node in order}
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, Tensor) or id(tensor) not in reached:
            raise ValueError(f"backward(inputs=...): input {index} is not a tensor that requires "
                             f"grad and that the output was computed from")
    return {id(tensor) for tensor in inputs}


def _check_graph_intact(order):
    """Refuse, before any .grad changes, to run through a node that cannot be differentiated
    (a gradient of an op without a second-order rule), ops whose buffers a backward freed, or
    whose inputs or output were changed in place after the op recorded them (its backward would
    read the new values). Every input counts as saved: stricter than PyTorch, never silent."""
    for node in order:
        fn = node._ctx
        if fn is None:
            continue
        if fn.refusal is not None:
            raise NotImplementedError(fn.refusal)
        if fn.freed:
            raise RuntimeError(f"trying to backward through {fn!r} a second time: its "
                               f"saved buffers were freed by the first backward(); call the first "
                               f"backward with retain_graph=True to backpropagate twice")
        changed = [f"input {i} (shape {t.shape})" for i, (t, version)
                   in enumerate(zip(fn.inputs, fn.input_versions))
                   if t is not None and t._version != version]
        if node._version != fn.output_version:
            changed.append(f"its output (shape {node.shape})")
        if changed:
            raise RuntimeError(f"backward through {fn!r}: {', '.join(changed)} was changed in "
                               f"place after the op used it, so its gradient would use the new "
                               f"values; change a copy (x.clone()), or change it after backward()")
