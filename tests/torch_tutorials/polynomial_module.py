"""Port of "PyTorch: Custom nn Modules" (Learning PyTorch with Examples).

Source: pytorch/tutorials, beginner_source/examples_nn/polynomial_module.py (read at commit
1d189709), https://github.com/pytorch/tutorials/blob/main/beginner_source/examples_nn/polynomial_module.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The code is the tutorial's; its prose
is left out.

Edits:
1. `import torch` -> `torch = import_as_torch(lib)`; the script's body, the class included, is
   `run`'s body (the class needs the library's `torch.nn.Module`).
2. Seeding: `torch.manual_seed(seed)` first; the model's initial state dict passes through
   `same.state` so that both libraries start from the same weights.
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

    class Polynomial3(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.randn(()))
            self.b = torch.nn.Parameter(torch.randn(()))
            self.c = torch.nn.Parameter(torch.randn(()))
            self.d = torch.nn.Parameter(torch.randn(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def string(self):
            return f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3'

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)

    model = Polynomial3()
    same.state(torch, "model", model)                              # [port]

    criterion = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    for t in range(steps):
        y_pred = model(x)

        loss = criterion(y_pred, y)
        losses.append(loss.item())                                 # [port]
        if t % 100 == 99:
            print(t, loss.item())

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    print(f'Result: {model.string()}')
    return {"losses": losses,                                      # [port]
            "coefficients": [model.a.item(), model.b.item(), model.c.item(), model.d.item()]}
