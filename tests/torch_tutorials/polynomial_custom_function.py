"""Port of "PyTorch: Defining New autograd Functions" (Learning PyTorch with Examples).

Source: pytorch/tutorials, beginner_source/examples_autograd/polynomial_custom_function.py
(read at commit 02ed6c5c),
https://github.com/pytorch/tutorials/blob/main/beginner_source/examples_autograd/polynomial_custom_function.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The code is the tutorial's; its prose
is left out.

Edits:
1. `import torch` -> `torch = import_as_torch(lib)`; the script's body, the class included, is
   `run`'s body (the class needs the library's `torch.autograd.Function`).
2. Seeding: `torch.manual_seed(seed)` first (the start is fixed by `torch.full`: nothing random).
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

    class LegendrePolynomial3(torch.autograd.Function):

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    dtype = torch.float
    device = torch.device("cpu")

    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)

    a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)

    learning_rate = 5e-6
    for t in range(steps):
        P3 = LegendrePolynomial3.apply

        y_pred = a + b * P3(c + d * x)

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

            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    print(f'Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)')
    return {"losses": losses, "coefficients": [a.item(), b.item(), c.item(), d.item()]}  # [port]
