"""Every PyTorch name that minigrad mirrors takes its positional arguments in PyTorch's order.

A PyTorch user's call must either mean the same here or fail: so minigrad's positional
parameters must be a prefix of PyTorch's (after the input tensor, or self), name for name.
What minigrad leaves out, or keeps with a different meaning on purpose, is keyword-only
(`max_pool2d(..., *, ceil_mode)`, `DataLoader(..., *, seed)`): a longer positional PyTorch call
then raises a TypeError instead of running.

PyTorch's order is read from the installed torch: `inspect.signature`, or for its C functions
the signature lines of their docstrings (one per overload: `max(input, dim, keepdim=False)`).
A second test keeps the table complete: every public name of minigrad.functional, minigrad.nn
and Tensor that PyTorch also has must be listed, or be in NOT_MIRRORED with the reason.
"""
import importlib
import inspect
import re

import pytest

import minigrad as mg
from minigrad import data, functional, nn
from minigrad.ops import methods

torch = pytest.importorskip("torch")

# Where a positional parameter means the same but is named differently; ours -> PyTorch's.
BINARY = {"b": "other"}
TARGET = {"labels": "target"}

# (minigrad name, PyTorch name, renamed parameters). Names under minigrad.Tensor and
# minigrad.nn.Module are methods (self dropped); functions drop their first parameter (the
# input); classes compare their constructors.
MIRRORED = [
    # ----- top level
    ("minigrad.tensor", "torch.tensor", {}),
    ("minigrad.manual_seed", "torch.manual_seed", {}),
    ("minigrad.gradcheck", "torch.autograd.gradcheck", {"*inputs": "inputs"}),
    ("minigrad.no_grad", "torch.no_grad", {}),
    # ----- top level: factories, devices (#24)
    *[(f"minigrad.{name}", f"torch.{name}", {})
      for name in ("zeros", "ones", "empty", "full", "rand", "randn", "randint", "arange",
                   "linspace", "eye", "zeros_like", "ones_like", "empty_like", "full_like",
                   "rand_like", "randn_like", "randint_like", "from_numpy", "as_tensor",
                   "set_default_device", "get_default_device",
                   "cuda.is_available", "cuda.device_count", "cuda.manual_seed",
                   "cuda.manual_seed_all", "accelerator.is_available",
                   "accelerator.current_accelerator", "accelerator.device_count")],
    # ----- top level: the torch.* functions (#24)
    *[(f"minigrad.{name}", f"torch.{name}", {})
      for name in ("sin", "cos", "exp", "log", "tanh", "sigmoid", "flatten", "cat",
                   "stack", "max", "min", "sum", "mean", "argmax", "where", "clamp", "abs",
                   "sqrt", "pow", "softmax")],
    ("minigrad.matmul", "torch.matmul", BINARY),
    ("minigrad.relu", "torch.nn.functional.relu", {}),        # torch.relu has no signature
    ("minigrad.mm", "torch.mm", {}),
    ("minigrad.enable_grad", "torch.enable_grad", {}),
    # ----- Tensor methods
    *[(f"minigrad.Tensor.{name}", f"torch.Tensor.{name}", {})
      for name in ("backward", "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin",
                   "var", "transpose", "gather", "flatten", "unsqueeze", "squeeze", "clamp",
                   "clip", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "softmax", "size",
                   "numel", "dim", "item", "numpy", "register_hook", "retain_grad", "tolist")],
    # (torch documents these two methods only as functions)
    ("minigrad.Tensor.relu", "torch.nn.functional.relu", {}),
    ("minigrad.Tensor.log_softmax", "torch.nn.functional.log_softmax", {}),
    ("minigrad.Tensor.reshape", "torch.Tensor.reshape", {"*sizes": "*shape"}),
    ("minigrad.Tensor.view", "torch.Tensor.view", {"*sizes": "*shape"}),
    ("minigrad.Tensor.permute", "torch.Tensor.permute", {"*sizes": "*dims"}),
    *[(f"minigrad.Tensor.{name}", f"torch.Tensor.{name}", BINARY)
      for name in ("eq", "ne", "lt", "le", "gt", "ge", "add", "sub")],
    ("minigrad.Tensor.mul", "torch.Tensor.mul", {"b": "value"}),
    ("minigrad.Tensor.div", "torch.Tensor.div", {"b": "value"}),
    ("minigrad.Tensor.matmul", "torch.Tensor.matmul", {"other": "tensor2"}),
    *[(f"minigrad.Tensor.{name}", f"torch.Tensor.{name}", {})
      for name in ("pow", "mm", "t", "clone", "sin", "cos", "double", "float", "long", "int",
                   "bool", "type", "to", "cpu", "cuda", "view_as", "reshape_as",
                   "requires_grad_", "norm", "std", "any", "all")],
    ("minigrad.Tensor.expand", "torch.Tensor.expand", {"*sizes": "*size"}),
    ("minigrad.Tensor.repeat", "torch.Tensor.repeat", {"*sizes": "*repeats"}),
    # ----- functional: activations, convolution, pooling, normalisation, losses
    *[(f"minigrad.functional.{name}", f"torch.nn.functional.{name}", {})
      for name in ("relu", "leaky_relu", "tanh", "sigmoid", "softmax", "log_softmax", "conv2d",
                   "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "dropout",
                   "pad", "mse_loss", "embedding", "linear", "gelu", "layer_norm",
                   "scaled_dot_product_attention")],
    ("minigrad.functional.cross_entropy", "torch.nn.functional.cross_entropy", TARGET),
    ("minigrad.functional.nll_loss", "torch.nn.functional.nll_loss", TARGET),
    ("minigrad.functional.binary_cross_entropy_with_logits",
     "torch.nn.functional.binary_cross_entropy_with_logits", {"targets": "target"}),
    ("minigrad.functional.binary_cross_entropy", "torch.nn.functional.binary_cross_entropy",
     {"targets": "target"}),
    ("minigrad.functional.l1_loss", "torch.nn.functional.l1_loss", {}),
    # ----- functional: the torch.* tensor functions
    *[(f"minigrad.functional.{name}", f"torch.{name}", {})
      for name in ("exp", "log", "sqrt", "abs", "neg", "pow", "clip", "clamp", "sum", "mean",
                   "max", "min", "amax", "amin", "argmax", "argmin", "var", "cat", "stack",
                   "sin", "cos", "where", "mm", "std",
                   "flatten", "gather", "permute", "reshape", "squeeze", "transpose",
                   "unsqueeze")],
    *[(f"minigrad.functional.{name}", f"torch.{name}", BINARY)
      for name in ("add", "sub", "mul", "div", "maximum", "minimum", "matmul", "eq", "ne",
                   "lt", "le", "gt", "ge")],
    ("minigrad.functional.concatenate", "torch.concatenate", {"dim": "axis"}),
    # ----- layers
    *[(f"minigrad.nn.{name}", f"torch.nn.{name}", {})
      for name in ("Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                   "BatchNorm1d", "BatchNorm2d", "Dropout", "Flatten", "Identity", "ReLU",
                   "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Module",
                   "Parameter", "ModuleList", "Embedding", "LayerNorm", "GELU",
                   "MultiheadAttention", "TransformerEncoderLayer")],
    ("minigrad.nn.Sequential", "torch.nn.Sequential", {"*modules": "*args"}),
    *[(f"minigrad.nn.{name}", f"torch.nn.{name}", {})
      for name in ("MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
                   "BCELoss")],
    ("minigrad.nn.MultiheadAttention.forward", "torch.nn.MultiheadAttention.forward", {}),
    ("minigrad.nn.TransformerEncoderLayer.forward", "torch.nn.TransformerEncoderLayer.forward",
     {}),
    # ----- Module methods
    *[(f"minigrad.nn.Module.{name}", f"torch.nn.Module.{name}", {})
      for name in ("parameters", "named_parameters", "buffers", "named_buffers", "children",
                   "named_children", "modules", "named_modules", "state_dict",
                   "load_state_dict", "train", "eval", "zero_grad", "apply",
                   "register_forward_hook", "register_full_backward_hook", "to", "double",
                   "float")],
    ("minigrad.nn.Module.register_buffer", "torch.nn.Module.register_buffer",
     {"array": "tensor"}),
    # ----- initialisation
    *[(f"minigrad.nn.init.{name}", f"torch.nn.init.{name}", {})
      for name in ("uniform_", "normal_", "zeros_", "ones_", "xavier_uniform_",
                   "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "calculate_gain")],
    ("minigrad.nn.init.constant_", "torch.nn.init.constant_", {"value": "val"}),
    # ----- optimizers and schedules
    *[(f"minigrad.optim.{name}", f"torch.optim.{name}", {})
      for name in ("SGD", "Adam", "AdamW", "RMSprop", "Optimizer", "Optimizer.zero_grad",
                   "Optimizer.step", "Optimizer.state_dict", "Optimizer.load_state_dict",
                   "lr_scheduler.StepLR", "lr_scheduler.MultiStepLR",
                   "lr_scheduler.CosineAnnealingLR", "lr_scheduler.OneCycleLR")],
    *[(f"minigrad.optim.{name}", f"torch.optim.{name}", {})
      for name in ("Adadelta", "Adagrad", "lr_scheduler.ExponentialLR",
                   "lr_scheduler.ReduceLROnPlateau", "lr_scheduler.ReduceLROnPlateau.step")],
    ("minigrad.optim.Optimizer.add_param_group", "torch.optim.Optimizer.add_param_group",
     {"group": "param_group"}),
    # ----- data
    ("minigrad.data.DataLoader", "torch.utils.data.DataLoader", {}),
    ("minigrad.data.TensorDataset", "torch.utils.data.TensorDataset", {"*arrays": "*tensors"}),
    ("minigrad.data.Dataset", "torch.utils.data.Dataset", {}),
    ("minigrad.data.Subset", "torch.utils.data.Subset", {}),
    ("minigrad.data.random_split", "torch.utils.data.random_split", {}),
    # ----- autograd
    ("minigrad.autograd.Function.apply", "torch.autograd.Function.apply", {}),
    ("minigrad.autograd.gradcheck", "torch.autograd.gradcheck", {"*inputs": "inputs"}),
    ("minigrad.autograd.gradgradcheck", "torch.autograd.gradgradcheck", {"*inputs": "inputs"}),
    ("minigrad.autograd.grad", "torch.autograd.grad", {}),
]

# Public names that PyTorch also has but that are not meant to mirror it, and why.
NOT_MIRRORED = {
    "nn.save": "minigrad.nn.save writes a plain .npz of arrays; torch.save pickles objects",
    "nn.load": "its counterpart; torch.load unpickles",
    "Tensor.astype": "NumPy's cast (torch has no astype)",
    "Tensor.device": "a property, always minigrad.device('cpu')",
}


def resolve(dotted):
    """The object named by a dotted path, attribute by attribute from the top package (so
    `minigrad.tensor` is the function, not the module of the same name)."""
    first, *rest = dotted.split(".")
    obj = importlib.import_module(first)
    for depth, part in enumerate(rest, start=2):
        if not hasattr(obj, part):
            importlib.import_module(".".join(dotted.split(".")[:depth]))
        obj = getattr(obj, part)
    return obj


def parameter_names(signature):
    """Positional parameters in order; a *args parameter as '*name', and nothing after it."""
    names = []
    for p in signature.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return names + ["*" + p.name]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    return names


def drop_input(names):
    """Without the first parameter: self, or a function's input tensor."""
    return names[1:] if names and not names[0].startswith("*") else names


def docstring_overloads(obj, name):
    """The positional parameters of each `name(...)` signature line in obj's docstring."""
    found = []
    pattern = re.compile(r"\s*(?:\.\. (?:function|method):: )?" + re.escape(name) + r"\((.*)\)")
    # a signature that wraps after a comma continues on the next line: join it
    for line in re.sub(r",\n\s*", ", ", obj.__doc__ or "").splitlines():
        match = pattern.match(line)
        if not match:
            continue
        names = []
        for part in match.group(1).split(")")[0].split(","):
            part = part.split(":")[0].split("=")[0].strip()
            if part == "*":
                break
            if part.startswith("*"):
                names.append(part)
                break
            if part:
                names.append(part)
        found.append(names)
    return found


def our_order(dotted):
    """minigrad's positional parameters after the input (a class: its constructor's)."""
    obj = resolve(dotted)
    names = parameter_names(inspect.signature(obj))
    return names if inspect.isclass(obj) else drop_input(names)


def torch_orders(dotted):
    """Every positional order PyTorch documents after the input (several for overloads)."""
    obj, name = resolve(dotted), dotted.rsplit(".", 1)[1]
    if inspect.isclass(obj):
        return [parameter_names(inspect.signature(obj))]
    # a method's docstring lines have no self (Tensor.to's and Module.to's overloads)
    tensor_method = dotted.startswith(("torch.Tensor.", "torch.nn.Module."))
    orders = [names if tensor_method else drop_input(names)
              for names in docstring_overloads(obj, name)]
    try:
        names = drop_input(parameter_names(inspect.signature(obj)))
        if names != ["*args"] or not orders:               # not a bare (*args, **kwargs) wrapper
            orders.append(names)
    except (TypeError, ValueError):                        # a C function without a signature
        pass
    return orders


@pytest.mark.parametrize("ours, theirs, renamed", MIRRORED, ids=[row[0] for row in MIRRORED])
def test_positional_arguments_follow_torch(ours, theirs, renamed):
    mine = [renamed.get(name, name) for name in our_order(ours)]
    orders = torch_orders(theirs)
    assert orders, f"no signature found for {theirs}"
    assert any(names[:len(mine)] == mine for names in orders), \
        f"{ours}{tuple(mine)} is not a prefix of {theirs}: {orders}"


def public(namespace, prefix):
    return {f"{prefix}.{name}" for name in dir(namespace) if not name.startswith("_")
            and callable(getattr(namespace, name))}


def is_module(namespace, name):
    return inspect.ismodule(getattr(namespace, name))


def test_every_name_shared_with_torch_is_in_the_table():
    listed = {row[0].replace("minigrad.", "", 1) for row in MIRRORED}
    shared = {name for name in public(functional, "functional")
              if hasattr(torch.nn.functional, name.split(".")[1])
              or hasattr(torch, name.split(".")[1])}
    shared |= {f"nn.{name}" for name in nn.__all__
               if hasattr(torch.nn, name) and not is_module(nn, name)}
    shared |= {f"Tensor.{name}" for name in methods.METHODS if hasattr(torch.Tensor, name)}
    shared |= {f"data.{name}" for name in data.__all__ if hasattr(torch.utils.data, name)}
    shared |= {name for name in ("manual_seed", "tensor", "no_grad", "enable_grad", "gradcheck")
               if hasattr(mg, name)}
    missing = sorted(shared - listed - set(NOT_MIRRORED))
    assert not missing, f"add these to MIRRORED (or NOT_MIRRORED, with the reason): {missing}"
