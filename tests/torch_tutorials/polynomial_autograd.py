"""Port of "PyTorch: Tensors and autograd" (Learning PyTorch with Examples).

Source: pytorch/tutorials, beginner_source/examples_autograd/polynomial_autograd.py (read at
commit 02e5a75d, the version that picks the device with `torch.accelerator`),
https://github.com/pytorch/tutorials/blob/main/beginner_source/examples_autograd/polynomial_autograd.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The code is the tutorial's; its prose
is left out.

Edits:
1. `import torch` -> `torch = import_as_torch(lib)`; the script's body is `run`'s body.
2. Seeding: `torch.manual_seed(seed)` first; a, b, c, d pass through `same` so that both
   libraries start from the same numbers.
3. Step count: `range(2000)` -> `range(steps)`.
4. Recording: each loss is appended to `losses`; `run` returns them and a, b, c, d.
5. The gradients are zeroed with `a.grad = None` (four lines), as in the version before
   (commit 92f11a17): commit 02e5a75d's `a.grad, b.grad, c.grad, d.grad = 0. , 0. , 0. , 0.`
   raises TypeError in torch itself ("assigned grad expected to be a Tensor or None").
"""
import math

from . import Same, import_as_torch


def run(lib="minigrad", *, steps=2000, seed=0, same=None):
    same = Same() if same is None else same                       # [port]
    torch = import_as_torch(lib)                                   # was: import torch
    torch.manual_seed(seed)                                        # [port]
    losses = []                                                    # [port]

    dtype = torch.float
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")
    torch.set_default_device(device)

    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    a = torch.randn((), dtype=dtype, requires_grad=True)
    b = torch.randn((), dtype=dtype, requires_grad=True)
    c = torch.randn((), dtype=dtype, requires_grad=True)
    d = torch.randn((), dtype=dtype, requires_grad=True)
    a, b, c, d = (same(torch, k, v) for k, v in zip("abcd", (a, b, c, d)))  # [port]

    learning_rate = 1e-6
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3

        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())                                 # [port]
        if t % 100 == 99:
            print(t, loss.item())

        loss.backward()

        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            a.grad = None                                          # edit 5
            b.grad = None
            c.grad = None
            d.grad = None

    print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
    return {"losses": losses, "coefficients": [a.item(), b.item(), c.item(), d.item()]}  # [port]
