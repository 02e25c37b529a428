"""Port of "Neural Networks" (Deep Learning with PyTorch: A 60 Minute Blitz).

Source: pytorch/tutorials, beginner_source/blitz/neural_networks_tutorial.py (read at commit
7a017bba), https://github.com/pytorch/tutorials/blob/main/beginner_source/blitz/neural_networks_tutorial.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The code is the tutorial's; its prose,
and the code shown in its prose (not run by the tutorial), are left out.

Edits:
1. `import torch`, `import torch.nn as nn`, `import torch.nn.functional as F` -> the same
   modules of `lib`; the script's body, the class included, is `run`'s body.
2. Seeding: `torch.manual_seed(seed)` first; the net's initial state dict and the three
   `torch.randn` tensors (input, the backward's gradient, target) pass through `same` so that
   both libraries hold the same numbers (for the gradient, `same(...)` wraps the `torch.randn`
   inside `out.backward(...)`).
3. Recording: `run` returns the outputs, the loss, the gradients and the grad_fn chain's names.
"""
from . import Same, import_as_torch, to_numpy


def run(lib="minigrad", *, seed=0, same=None):
    same = Same() if same is None else same                    # [port]
    torch = import_as_torch(lib)                                   # was: import torch
    nn = import_as_torch(lib, "nn")                                # was: import torch.nn as nn
    F = import_as_torch(lib, "nn.functional")                      # was: import torch.nn.functional as F
    torch.manual_seed(seed)                                    # [port]
    rec = {}                                                   # [port]

    class Net(nn.Module):

        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, input):
            c1 = F.relu(self.conv1(input))
            s2 = F.max_pool2d(c1, (2, 2))
            c3 = F.relu(self.conv2(s2))
            s4 = F.max_pool2d(c3, 2)
            s4 = torch.flatten(s4, 1)
            f5 = F.relu(self.fc1(s4))
            f6 = F.relu(self.fc2(f5))
            output = self.fc3(f6)
            return output

    net = Net()
    print(net)
    same.state(torch, "net", net)                              # [port]

    params = list(net.parameters())
    print(len(params))
    print(params[0].size())  # conv1's .weight
    rec["len(params)"], rec["params[0].size()"] = len(params), tuple(params[0].size())  # [port]

    input = torch.randn(1, 1, 32, 32)
    input = same(torch, "input", input)                        # [port]
    out = net(input)
    print(out)
    rec["out"] = to_numpy(out)                                 # [port]

    net.zero_grad()
    out.backward(same(torch, "gradient", torch.randn(1, 10)))  # [port] same(...) around randn
    rec["grads after out.backward"] = [to_numpy(p.grad) for p in net.parameters()]  # [port]

    output = net(input)
    target = torch.randn(10)  # a dummy target, for example
    target = same(torch, "target", target)                     # [port]
    target = target.view(1, -1)  # make it the same shape as output
    criterion = nn.MSELoss()

    loss = criterion(output, target)
    print(loss)
    rec["loss"] = loss.item()                                  # [port]

    print(loss.grad_fn)  # MSELoss
    print(loss.grad_fn.next_functions[0][0])  # Linear
    print(loss.grad_fn.next_functions[0][0].next_functions[0][0])  # ReLU
    rec["grad_fn chain"] = [type(f).__name__ for f in (        # [port]
        loss.grad_fn, loss.grad_fn.next_functions[0][0],
        loss.grad_fn.next_functions[0][0].next_functions[0][0])]

    net.zero_grad()     # zeroes the gradient buffers of all parameters

    print('conv1.bias.grad before backward')
    print(net.conv1.bias.grad)
    rec["conv1.bias.grad before backward"] = net.conv1.bias.grad  # [port]

    loss.backward()

    print('conv1.bias.grad after backward')
    print(net.conv1.bias.grad)
    rec["conv1.bias.grad after backward"] = to_numpy(net.conv1.bias.grad)  # [port]
    rec["grads after loss.backward"] = [to_numpy(p.grad) for p in net.parameters()]  # [port]
    return rec                                                 # [port]
