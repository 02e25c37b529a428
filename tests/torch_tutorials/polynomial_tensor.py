"""Port of "PyTorch: Tensors" (Learning PyTorch with Examples).

Source: pytorch/tutorials, beginner_source/examples_tensor/polynomial_tensor.py (read at commit
088bc52a), https://github.com/pytorch/tutorials/blob/main/beginner_source/examples_tensor/polynomial_tensor.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The code is the tutorial's; its prose
is left out.

Edits:
1. `import torch` -> `torch = import_as_torch(lib)`; the script's body is `run`'s body.
2. Seeding: `torch.manual_seed(seed)` first; a, b, c, d pass through `same` so that both
   libraries start from the same numbers.
3. Step count: `range(2000)` -> `range(steps)`.
4. Recording: each loss is appended to `losses`; `run` returns them and a, b, c, d.
"""
import math

from . import Same, import_as_torch


def run(lib="minigrad", *, steps=2000, seed=0, same=None):
    same = Same() if same is None else same                       # [port]
    torch = import_as_torch(lib)                                   # was: import torch
    torch.manual_seed(seed)                                        # [port]
    losses = []                                                    # [port]

    dtype = torch.float
    device = torch.device("cpu")

    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)

    a = torch.randn((), device=device, dtype=dtype)
    b = torch.randn((), device=device, dtype=dtype)
    c = torch.randn((), device=device, dtype=dtype)
    d = torch.randn((), device=device, dtype=dtype)
    a, b, c, d = (same(torch, k, v) for k, v in zip("abcd", (a, b, c, d)))  # [port]

    learning_rate = 1e-6
    for t in range(steps):
        y_pred = a + (b * x) + (c * x.pow(2)) + (d * x.pow(3))

        loss = (y_pred - y).pow(2).sum().item()
        losses.append(loss)                                        # [port]
        if t % 100 == 99:
            print(t, loss)

        grad_y_pred = -2.0 * (y - y_pred)
        grad_a = grad_y_pred.sum()
        grad_b = torch.matmul(input=grad_y_pred, other=x).sum()
        grad_c = torch.matmul(input=grad_y_pred, other=x.pow(2)).sum()
        grad_d = torch.matmul(input=grad_y_pred, other=x.pow(3)).sum()

        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d

    print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
    return {"losses": losses, "coefficients": [a.item(), b.item(), c.item(), d.item()]}  # [port]
