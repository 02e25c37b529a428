"""`Module`: the base class of every layer and model, plus `Parameter` and `Sequential`.

A Module finds its parts by looking at its own attributes, in the order they were assigned:

    Parameter attributes   -> its learnable tensors        (self.weight = Parameter(...))
    Module attributes      -> its children                 (self.conv1 = Conv2d(...))
    register_buffer names  -> its non-learnable state      (BatchNorm's running_mean)

Everything else (`state_dict`, `train`, `zero_grad`, `to`, `summary` ...) walks that tree. Names
join attribute names with dots ('features.0.weight'), exactly as PyTorch names them, so a state
dict maps one-to-one onto the same model written in PyTorch.
"""
import inspect
from collections import OrderedDict, namedtuple

import numpy as np

from minigrad import devices
from minigrad.tensor import RemovableHandle, Tensor, clear_grad

LoadResult = namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that a Module learns: `requires_grad=True` and found by `parameters()`."""

    def __init__(self, data, requires_grad=True, *, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _check_takes_two_arguments(hook):
    """Refuse a backward hook that cannot be called as hook(module, grad_output)."""
    try:
        signature = inspect.signature(hook)
    except (TypeError, ValueError):                  # some builtins have none to read: let them be
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise TypeError(
            f"register_full_backward_hook: minigrad calls hook(module, grad_output), and "
            f"{getattr(hook, '__name__', hook)!r} takes {signature}. A torch-style "
            f"hook(module, grad_input, grad_output) needs grad_input, which minigrad's module "
            f"hooks do not have: drop that argument (register a hook on an input tensor with "
            f"tensor.register_hook for its gradient)") from None


class Module:
    """Base class: subclasses set their parts in `__init__` and compute in `forward`."""

    def __init__(self):
        # Bookkeeping, not parts of the model: none is a Parameter or a Module, so the walks
        # over vars(self) below pass them by.
        self.training = True
        self._buffer_names = []
        self._forward_hooks, self._backward_hooks = [], []
        self._output_shape = None     # of the last forward call, for repr and summary

    def __getattr__(self, name):
        # Python calls this only when normal lookup fails; the bookkeeping attributes are missing
        # exactly when a subclass's __init__ forgot to call Module.__init__.
        if name in ("training", "_buffer_names", "_forward_hooks", "_backward_hooks",
                    "_output_shape"):
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before using the module")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    # ----- calling, with hooks -----------------------------------------------------------------
    def __call__(self, *inputs, **options):
        # options: forward's keyword arguments (attention masks ...); hooks see `inputs` only,
        # as PyTorch's hooks do unless registered with_kwargs
        output = self.forward(*inputs, **options)
        for hook in list(self._forward_hooks):
            replaced = hook(self, inputs, output)
            if replaced is not None:
                output = replaced
        if isinstance(output, Tensor):
            self._output_shape = output.shape
            if output.requires_grad and self._backward_hooks:
                output.register_hook(self._run_backward_hooks)
        return output

    def _run_backward_hooks(self, grad_output):
        for hook in list(self._backward_hooks):
            replaced = hook(self, grad_output)
            if replaced is not None:
                grad_output = replaced
        return grad_output

    def register_forward_hook(self, hook):
        """Call `hook(module, inputs, output)` after every forward; a returned value replaces
        the output. Returns a handle whose `remove()` takes the hook away."""
        self._forward_hooks.append(hook)
        return RemovableHandle(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook):
        """Call `hook(module, grad_output)` when backward reaches this module's output, with
        grad_output = dL/d(output) as a Tensor; a returned Tensor replaces it (and so changes
        every gradient further back). Returns a handle whose `remove()` takes the hook away.
        (PyTorch's hook also receives grad_input: `hook(module, grad_input, grad_output)`; such
        a hook is refused here, when it is registered, not later inside backward().)"""
        _check_takes_two_arguments(hook)
        self._backward_hooks.append(hook)
        return RemovableHandle(self._backward_hooks, hook)

    register_backward_hook = register_full_backward_hook

    # ----- the tree of parts --------------------------------------------------------------------
    def register_buffer(self, name, array):
        """Keep `array` (an ndarray, or None) as state that is saved but not learned."""
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"register_buffer('{name}'): expected an ndarray or None, "
                            f"got {type(array).__name__}")
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, array)

    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        return (child for _, child in self.named_children())

    def named_modules(self, *, prefix=""):
        """(name, module) for this module ('') and every descendant ('features.3'); every name
        starts with `prefix` (keyword-only: PyTorch's first argument is a memo set)."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(prefix=_join(prefix, name))

    def modules(self):
        return (module for _, module in self.named_modules())

    def _own_parameters(self):
        return [(name, value) for name, value in vars(self).items()
                if isinstance(value, Parameter)]

    def _own_buffers(self):
        return [(name, getattr(self, name)) for name in self._buffer_names
                if getattr(self, name) is not None]

    def named_parameters(self):
        for prefix, module in self.named_modules():
            for name, param in module._own_parameters():
                yield _join(prefix, name), param

    def parameters(self):
        return (param for _, param in self.named_parameters())

    def named_buffers(self):
        for prefix, module in self.named_modules():
            for name, buffer in module._own_buffers():
                yield _join(prefix, name), buffer

    def buffers(self):
        return (buffer for _, buffer in self.named_buffers())

    def num_parameters(self, trainable_only=False):
        """How many numbers the model learns (all parameters, or those with requires_grad)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call fn(module) on every descendant, then on self (e.g. a custom initialiser)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----- modes, gradients, dtypes -------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (batch statistics, dropout on) or, with mode=False, evaluation mode."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (backward accumulates into `.grad`): set it to None,
        or with set_to_none=False fill it with zeros, as in PyTorch."""
        for param in self.parameters():
            clear_grad(param, set_to_none)

    def to(self, device=None, dtype=None, non_blocking=False):
        """model.to("cpu"), model.to(minigrad.float64), model.to("cpu", dtype), model.to(tensor),
        as in PyTorch; returns self. The model is on the CPU already (other devices are refused,
        see devices.py); a dtype converts every parameter and floating-point buffer in place.

        Parameters keep their identity (an optimizer built before still updates them); integer
        buffers such as `num_batches_tracked` stay integers.
        """
        dtype = devices.target_dtype(device, dtype, "Module.to")
        if dtype is None:
            return self
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"Module.to: expected a floating-point dtype, got {dtype}")
        for param in self.parameters():
            param.data = param.data.astype(dtype)
            param.grad = None if param.grad is None else Tensor(param.grad.data.astype(dtype))
        for module in self.modules():
            for name, buffer in module._own_buffers():
                if np.issubdtype(buffer.dtype, np.floating):
                    setattr(module, name, buffer.astype(dtype))
        return self

    def double(self):
        return self.to(np.float64)

    cpu = devices.cpu                 # model.cpu(): self; model.cuda(): refused with a sentence
    cuda = devices.refuse_cuda

    def float(self):
        return self.to(np.float32)

    # ----- saving and loading -------------------------------------------------------------------
    def _named_state(self):
        """(name, live ndarray) for every parameter and buffer, in PyTorch's state-dict order:
        a module's own parameters, then its own buffers, then each child's, depth first."""
        for prefix, module in self.named_modules():
            for name, param in module._own_parameters():
                yield _join(prefix, name), param.data
            for name, buffer in module._own_buffers():
                yield _join(prefix, name), buffer

    def state_dict(self):
        """An ordered dict name -> copy of every parameter and buffer (plain ndarrays)."""
        return OrderedDict((name, np.array(array, copy=True))
                           for name, array in self._named_state())

    def load_state_dict(self, state_dict, strict=True):
        """Copy the arrays of `state_dict` into this model's parameters and buffers, in place.

        Everything is checked first, so on any error the model is left untouched: shapes must
        match, and with strict=True no key may be missing or unexpected. Values are converted to
        each parameter's dtype. Returns (missing_keys, unexpected_keys).
        """
        targets = OrderedDict(self._named_state())
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        problems = _first(_shape_and_type_problems(targets, state_dict), "mismatched entries")
        if strict:
            problems += _first([f"missing key '{name}'" for name in missing], "missing keys")
            problems += _first([f"unexpected key '{name}'" for name in unexpected],
                               "unexpected keys")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__} failed, the model is "
                             f"unchanged{_prefix_hint(targets, state_dict)}:\n  "
                             + "\n  ".join(problems))
        for name, target in targets.items():
            if name in state_dict:
                target[...] = state_dict[name]
        return LoadResult(missing, unexpected)

    # ----- printing -----------------------------------------------------------------------------
    def extra_repr(self):
        """The constructor arguments shown in repr, e.g. '3, 16, kernel_size=(3, 3)'."""
        return ""

    def __repr__(self):
        """The tree of modules; output shapes from the last forward call and parameter counts."""
        head = f"{type(self).__name__}({self.extra_repr()})"
        children = list(self.named_children())
        if not children:
            return head + _annotation(self)
        lines = [f"{type(self).__name__}(" + self.extra_repr()]
        for name, child in children:
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return "\n".join(lines) + "\n)" + _annotation(self)


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _annotation(module):
    notes = []
    if module._output_shape is not None:
        notes.append(f"-> {module._output_shape}")
    count = module.num_parameters()
    if count:
        notes.append(f"{count:,} params")
    return "  # " + ", ".join(notes) if notes else ""


def _first(problems, kind, shown=4):
    """The first few problems of one kind, and how many more there are: a state dict of another
    architecture differs in every key, and the first ones are what tells the reader why."""
    if len(problems) <= shown:
        return problems
    return problems[:shown] + [f"... and {len(problems) - shown} more {kind}"]


def _prefix_hint(targets, state_dict):
    """A hint when the keys are the model's under a prefix, e.g. a training checkpoint's
    'model.conv1.weight': then `nn.select(state, 'model')` is what to load."""
    prefixes = {name.split(".", 1)[0] for name in state_dict if "." in name}
    for prefix in sorted(prefixes):
        inner = {name[len(prefix) + 1:] for name in state_dict if name.startswith(prefix + ".")}
        if set(targets) <= inner:
            return (f" (the state dict holds this model's keys under '{prefix}.': load "
                    f"nn.select(state_dict, '{prefix}'))")
    return ""


def _shape_and_type_problems(targets, state_dict):
    """One message per entry of state_dict that cannot be copied into its target array."""
    problems = []
    for name, target in targets.items():
        if name not in state_dict:
            continue
        value = np.asarray(state_dict[name])
        if value.shape != target.shape:
            problems.append(f"shape mismatch for '{name}': the model has {target.shape}, "
                            f"the state dict has {value.shape}")
        elif value.dtype.kind not in "biuf":
            problems.append(f"'{name}' has dtype {value.dtype}, expected a number type")
    return problems


class _NumberedModules(Module):
    """Children named '0', '1', ... in order (what Sequential and ModuleList share).

    Indexing gives a child (`model[0]`, `model[-1]`) or, with a slice, a new container of the
    same kind that shares those children under their old names (`model[:3]`).
    """

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        """Add `module` as the next child, named by its position."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: item {len(self)} is a "
                            f"{type(module).__name__}, expected a Module")
        setattr(self, str(max((int(name) + 1 for name, _ in self.named_children()),
                              default=0)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def __len__(self):
        return sum(1 for _ in self.named_children())

    def __iter__(self):
        return self.children()

    def __getitem__(self, index):
        named = list(self.named_children())
        if not isinstance(index, slice):
            return named[index][1]
        part = type(self)()
        for name, module in named[index]:
            setattr(part, name, module)
        return part


class Sequential(_NumberedModules):
    """Modules applied one after another; children are named '0', '1', ... as in PyTorch."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_NumberedModules):
    """A list of modules whose parameters the parent finds (a plain Python list would hide
    them): `self.blocks = ModuleList([Block() for _ in range(4)])`, then `for block in
    self.blocks: x = block(x)` in forward. Keys 'blocks.0.weight' ... as in PyTorch. It has no
    forward of its own."""

    def __init__(self, modules=None):
        super().__init__(() if modules is None else modules)
