"""Port of "A Gentle Introduction to torch.autograd" (Deep Learning with PyTorch: A 60 Minute Blitz).

Source: pytorch/tutorials, beginner_source/blitz/autograd_tutorial.py,
https://github.com/pytorch/tutorials/blob/main/beginner_source/blitz/autograd_tutorial.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The stored pytorch/tutorials copy read
here is an old version ("Autograd: automatic differentiation"); the current one was read from
the search index's copy of the file (id 1108814946). The code is the tutorial's; its prose is
left out.

Edits:
1. `import torch` (twice) and `from torch import nn, optim` -> the same modules of `lib`; the
   script's body is `run`'s body.
2. The model source: `from torchvision.models import resnet18, ResNet18_Weights` and
   `resnet18(weights=ResNet18_Weights.DEFAULT)` (twice) load torchvision's pretrained weights,
   a download (and torchvision is not installed here). `resnet18(nn, torch)` below is the same
   architecture (torchvision's ResNet-18: its layers, attribute names and state-dict keys),
   written with the library's `nn`, with freshly initialised weights; `weights=` is dropped.
3. Seeding: `torch.manual_seed(seed)` first; the first model's initial state dict and the
   random `data`, `labels`, `x`, `y`, `z` pass through `same` so that both libraries hold the
   same numbers. (The second model's weights are never used by the tutorial: not seeded.)
4. Recording: `run` returns the prediction, the loss, the gradients, the parameters after the
   SGD step, the printed comparisons and flags.
"""
from . import Same, import_as_torch, to_numpy


def resnet18(nn, torch):
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2], 1000 classes), untrained."""

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet(nn.Module):
        def __init__(self, num_classes=1000):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._layer(64, 64, 1)
            self.layer2 = self._layer(64, 128, 2)
            self.layer3 = self._layer(128, 256, 2)
            self.layer4 = self._layer(256, 512, 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        @staticmethod
        def _layer(inplanes, planes, stride):
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes))
            return nn.Sequential(BasicBlock(inplanes, planes, stride, downsample),
                                 BasicBlock(planes, planes))

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def run(lib="minigrad", *, seed=0, same=None):
    same = Same() if same is None else same                       # [port]
    torch = import_as_torch(lib)                                   # was: import torch
    torch.manual_seed(seed)                                        # [port]
    rec = {}                                                       # [port]

    model = resnet18(import_as_torch(lib, "nn"), torch)            # edit 2
    same.state(torch, "model", model)                              # [port]
    data = torch.rand(1, 3, 64, 64)
    labels = torch.rand(1, 1000)
    data, labels = same(torch, "data", data), same(torch, "labels", labels)  # [port]

    prediction = model(data) # forward pass
    rec["prediction"] = to_numpy(prediction)                       # [port]

    loss = (prediction - labels).sum()
    loss.backward() # backward pass
    rec["loss"] = loss.item()                                      # [port]
    rec["grads"] = {name: to_numpy(p.grad) for name, p in model.named_parameters()}  # [port]

    optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

    optim.step() #gradient descent
    rec["parameters after step"] = {name: to_numpy(p) for name, p in model.named_parameters()}  # [port]

    torch = import_as_torch(lib)                                   # was: import torch

    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)

    Q = 3*a**3 - b**2

    external_grad = torch.tensor([1., 1.])
    Q.backward(gradient=external_grad)

    print(9*a**2 == a.grad)
    print(-2*b == b.grad)
    rec["9*a**2 == a.grad"] = to_numpy(9*a**2 == a.grad)           # [port]
    rec["-2*b == b.grad"] = to_numpy(-2*b == b.grad)               # [port]
    rec["a.grad"], rec["b.grad"] = to_numpy(a.grad), to_numpy(b.grad)  # [port]

    x = torch.rand(5, 5)
    y = torch.rand(5, 5)
    z = torch.rand((5, 5), requires_grad=True)
    x, y, z = (same(torch, k, v) for k, v in zip("xyz", (x, y, z)))  # [port]

    a = x + y
    print(f"Does `a` require gradients? : {a.requires_grad}")
    b = x + z
    print(f"Does `b` require gradients?: {b.requires_grad}")
    rec["requires_grad of a, b"] = (a.requires_grad, b.requires_grad)  # [port]

    nn, optim = import_as_torch(lib, "nn"), import_as_torch(lib, "optim")  # was: from torch import nn, optim

    model = resnet18(nn, torch)                                    # edit 2

    for param in model.parameters():
        param.requires_grad = False

    model.fc = nn.Linear(512, 10)

    optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    rec["requires_grad after freezing"] = [p.requires_grad for p in model.parameters()]  # [port]
    rec["parameters in optimizer"] = sum(len(group["params"]) for group in optimizer.param_groups)  # [port]
    return rec                                                     # [port]
