"""PyTorch's beginner tutorials, ported so that they run against either library (issue #24).

One module per tutorial file of pytorch/tutorials (BSD-3-Clause licensed, Copyright (c) 2017-,
PyTorch contributors): the four files of "Deep Learning with PyTorch: A 60 Minute Blitz" and
the seven of "Learning PyTorch with Examples". Each module's header names its source file and
lists every edit; the code between is the tutorial's, in the tutorial's order. Every module has

    run(lib="minigrad", *, steps=..., seed=0, same=None, ...) -> dict of the numbers it made

where `lib` is the name that the tutorial's `import torch` now imports ("torch" or "minigrad":
`import minigrad as torch`, `import minigrad.nn as nn`, ...). The edits allowed are the import
lines, the data source (no downloads here), sizes and step counts, seeding, and lines marked
`# [port]` that record the numbers to compare or make both libraries start from the same numbers.

The two libraries draw different random numbers from the same seed. `Same` gives them the same
ones: the first run records what each marked line drew (and each model's initial state dict),
the second run replaces it with the recorded NumPy arrays. tests/test_torch_tutorials.py runs
torch first, then minigrad with torch's numbers.
"""
import importlib

import numpy as np

BLITZ = ("blitz_tensor_tutorial", "blitz_autograd_tutorial", "blitz_neural_networks_tutorial",
         "blitz_cifar10_tutorial")
EXAMPLES = ("polynomial_tensor", "polynomial_autograd", "polynomial_custom_function",
            "polynomial_nn", "polynomial_optim", "polynomial_module", "dynamic_net")
PORTS = BLITZ + EXAMPLES


def import_as_torch(lib, submodule=None):
    """What `import torch` (or `import torch.<submodule>`) now imports: `lib` or lib.submodule."""
    return importlib.import_module(lib if submodule is None else f"{lib}.{submodule}")


def to_numpy(value):
    """A NumPy copy of a Tensor of either library (or of an array, or a number)."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.array(value, copy=True)


class Same:
    """The same random numbers in both libraries.

    `same(torch, name, t)` after a line that drew `t` at random: recording (the first run), it
    keeps a NumPy copy of `t` and returns `t`; replaying (built with the first run's `values`),
    it returns `torch.tensor(recorded, requires_grad=t.requires_grad)` instead.
    `same.state(torch, name, module)` does the same with a module's initial state dict, loaded
    with `module.load_state_dict`.
    """

    def __init__(self, values=None):
        self.replaying = values is not None
        self.values = {} if values is None else values

    def __call__(self, torch, name, t):
        if not self.replaying:
            self.values[name] = to_numpy(t)
            return t
        return torch.tensor(self.values[name], requires_grad=bool(t.requires_grad))

    def state(self, torch, name, module):
        if not self.replaying:
            self.values[name] = {key: to_numpy(value)
                                 for key, value in module.state_dict().items()}
            return
        module.load_state_dict({key: torch.tensor(value)
                                for key, value in self.values[name].items()})
