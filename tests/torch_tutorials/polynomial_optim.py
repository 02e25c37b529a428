"""Port of "PyTorch: optim" (Learning PyTorch with Examples).

Source: pytorch/tutorials, beginner_source/examples_nn/polynomial_optim.py (read at commit
02d76941), https://github.com/pytorch/tutorials/blob/main/beginner_source/examples_nn/polynomial_optim.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The code is the tutorial's; its prose
is left out.

Edits:
1. `import torch` -> `torch = import_as_torch(lib)`; the script's body is `run`'s body.
2. Seeding: `torch.manual_seed(seed)` first; the model's initial state dict passes through
   `same.state` so that both libraries start from the same weights.
3. Step count: `range(2000)` -> `range(steps)`.
4. Recording: each loss is appended to `losses`; `run` returns them and the four coefficients.
"""
import math

from . import Same, import_as_torch


def run(lib="minigrad", *, steps=2000, seed=0, same=None):
    same = Same() if same is None else same                       # [port]
    torch = import_as_torch(lib)                                   # was: import torch
    torch.manual_seed(seed)                                        # [port]
    losses = []                                                    # [port]

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)

    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    model = torch.nn.Sequential(
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(0, 1)
    )
    same.state(torch, "model", model)                              # [port]
    loss_fn = torch.nn.MSELoss(reduction='sum')

    learning_rate = 1e-6
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    for t in range(steps):
        y_pred = model(xx)

        loss = loss_fn(y_pred, y)
        losses.append(loss.item())                                 # [port]
        if t % 100 == 99:
            print(t, loss.item())

        optimizer.zero_grad()

        loss.backward()

        optimizer.step()

    linear_layer = model[0]
    print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
    return {"losses": losses,                                      # [port]
            "coefficients": [linear_layer.bias.item()] + [linear_layer.weight[:, i].item()
                                                          for i in range(3)]}
