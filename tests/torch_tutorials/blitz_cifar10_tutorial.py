"""Port of "Training a Classifier" (Deep Learning with PyTorch: A 60 Minute Blitz).

Source: pytorch/tutorials, beginner_source/blitz/cifar10_tutorial.py (read at commit c53e7d4e),
https://github.com/pytorch/tutorials/blob/main/beginner_source/blitz/cifar10_tutorial.py
BSD-3-Clause, Copyright (c) 2017-, PyTorch contributors. The code is the tutorial's; its prose,
and the code shown in its prose (not run by the tutorial), are left out.

Edits:
1. `import torch`, `import torch.nn as nn`, `import torch.nn.functional as F`,
   `import torch.optim as optim` -> the same modules of `lib`; the script's body, the class
   included, is `run`'s body.
2. The data source: no downloads here, and torchvision is not installed. `import torchvision`,
   `import torchvision.transforms as transforms`, the `transform = transforms.Compose(...)`
   line and `torchvision.datasets.CIFAR10(root='./data', train=..., download=True,
   transform=transform)` are replaced by `cifar10_shaped(torch, n, seed)`: a
   `torch.utils.data.TensorDataset` of minigrad.data.shapes images in CIFAR-10's shape
   (3x32x32, 10 classes), scaled to [0, 1] and normalised with mean 0.5 and std 0.5 per
   channel, as ToTensor and Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) do. The labels index
   the tutorial's `classes` (the names do not describe the shapes). `torchvision.utils.make_grid`
   is replaced by `make_grid` below (the batch side by side, 2 pixels apart, as make_grid lays
   out 4 images); the figures go to matplotlib's Agg backend and are closed after the run.
3. Sizes: `n_train` training and `n_test` test images (CIFAR-10 has 50,000 and 10,000),
   `epochs` passes (2 in the tutorial), statistics every `print_every` mini-batches (2000).
   The save path './cifar_net.pth' is `path` (a temporary file in the test).
4. Seeding: `torch.manual_seed(seed)` first; the net's initial state dict passes through
   `same`. The training loader's `shuffle=True` is `shuffle` (True by default): the torch
   comparison passes False, because the two libraries shuffle with different random numbers.
5. Recording: `run` returns every training loss, the trained state dict, the test outputs and
   the accuracy counts.
"""
import numpy as np

from minigrad.data import shapes

from . import Same, import_as_torch, to_numpy


def cifar10_shaped(torch, n, seed):
    """The data source (edit 2): n shapes images as a normalised CIFAR-10-shaped data set."""
    images, labels, _ = shapes(n, size=32, seed=seed)
    images = (images.astype(np.float32) / 255 - 0.5) / 0.5
    return torch.utils.data.TensorDataset(torch.tensor(images), torch.tensor(labels))


def make_grid(torch, images):
    """torchvision.utils.make_grid for one row: 2-pixel gaps and border, 3 channels (edit 2)."""
    images = to_numpy(images)
    n, c, h, w = images.shape
    grid = np.zeros((c, h + 4, n * (w + 2) + 2), dtype=images.dtype)
    for i, image in enumerate(images):
        grid[:, 2:2 + h, 2 + i * (w + 2):2 + i * (w + 2) + w] = image
    return torch.tensor(grid)


def run(lib="minigrad", *, n_train=200, n_test=40, epochs=2, print_every=2000, shuffle=True,
        path="./cifar_net.pth", seed=0, same=None):
    same = Same() if same is None else same                       # [port]
    torch = import_as_torch(lib)                                   # was: import torch
    torch.manual_seed(seed)                                        # [port]
    rec = {"losses": []}                                           # [port]

    batch_size = 4

    trainset = cifar10_shaped(torch, n_train, seed=0)              # edit 2
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size,
                                              shuffle=shuffle, num_workers=2)

    testset = cifar10_shaped(torch, n_test, seed=1)                # edit 2
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size,
                                             shuffle=False, num_workers=2)

    classes = ('plane', 'car', 'bird', 'cat',
               'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

    import matplotlib
    matplotlib.use("Agg")                                          # edit 2
    import matplotlib.pyplot as plt
    import numpy as np

    def imshow(img):
        img = img / 2 + 0.5     # unnormalize
        npimg = img.numpy()
        plt.imshow(np.transpose(npimg, (1, 2, 0)))
        plt.show()

    dataiter = iter(trainloader)
    images, labels = next(dataiter)

    imshow(make_grid(torch, images))                               # edit 2
    print(' '.join(f'{classes[labels[j]]:5s}' for j in range(batch_size)))

    nn = import_as_torch(lib, "nn")                                # was: import torch.nn as nn
    F = import_as_torch(lib, "nn.functional")                      # was: import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1) # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    net = Net()
    same.state(torch, "net", net)                                  # [port]

    optim = import_as_torch(lib, "optim")                          # was: import torch.optim as optim

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    for epoch in range(epochs):  # loop over the dataset multiple times

        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data

            optimizer.zero_grad()

            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            running_loss += loss.item()
            rec["losses"].append(loss.item())                      # [port]
            if i % print_every == print_every - 1:    # print every 2000 mini-batches
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / print_every:.3f}')
                running_loss = 0.0

    print('Finished Training')

    PATH = path
    torch.save(net.state_dict(), PATH)
    rec["state"] = {k: to_numpy(v) for k, v in net.state_dict().items()}  # [port]

    dataiter = iter(testloader)
    images, labels = next(dataiter)

    imshow(make_grid(torch, images))                               # edit 2
    print('GroundTruth: ', ' '.join(f'{classes[labels[j]]:5s}' for j in range(4)))

    net = Net()
    net.load_state_dict(torch.load(PATH))

    outputs = net(images)
    rec["outputs"] = to_numpy(outputs)                             # [port]

    _, predicted = torch.max(outputs, 1)

    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}'
                                  for j in range(4)))

    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f'Accuracy of the network on the 10000 test images: {100 * correct // total} %')
    rec["correct"], rec["total"] = correct, total                  # [port]

    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    for classname, correct_count in correct_pred.items():
        accuracy = 100 * float(correct_count) / total_pred[classname]
        print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
    rec["correct_pred"], rec["total_pred"] = correct_pred, total_pred  # [port]

    device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')

    print(device)
    rec["device"] = str(device)                                    # [port]

    del dataiter
    plt.close("all")                                               # edit 2
    return rec                                                     # [port]
