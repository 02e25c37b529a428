"""LeNet-5 (LeCun et al. 1998), the network that first read handwritten digits at scale.

    x (N, 1, 28, 28)
    conv 5x5 -> 6, padding 2   (N, 6, 28, 28)   the padding lets 28x28 MNIST stand in for the
    activation, pool 2x2       (N, 6, 14, 14)   paper's 32x32 input: the sizes below are the paper's
    conv 5x5 -> 16             (N, 16, 10, 10)
    activation, pool 2x2       (N, 16, 5, 5)
    flatten, fc 400 -> 120, activation, fc 120 -> 84, activation, fc 84 -> 10   (N, 10) logits

The paper used tanh-like squashing and average ("subsampling") pooling; the modern default is
ReLU and max pooling. Both are one argument away, so the course's variants can be compared.

image_size=64 (the colour shapes v3): the first convolution strides 2, so its map is 32x32 and
the rest sees 16, 12 and 6 a side: flatten 16 * 6 * 6 = 576 -> 120 -> 84 -> 10.
"""
from minigrad import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLINGS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
FIRST_STRIDE = {28: 1, 64: 2}


def lenet_geometry(image_size):
    """(the first convolution's stride, the side of the last pooled map) for image_size x
    image_size inputs: conv 5x5 pad 2 (stride s), pool 2, conv 5x5, pool 2."""
    if image_size not in FIRST_STRIDE:
        raise ValueError(f"LeNet: image_size must be one of {sorted(FIRST_STRIDE)}, got "
                         f"{image_size!r}")
    stride = FIRST_STRIDE[image_size]
    conv1 = (image_size + 2 * 2 - 5) // stride + 1
    return stride, (conv1 // 2 - 4) // 2


def _choose(table, name, what):
    if name not in table:
        raise ValueError(f"LeNet5: unknown {what} {name!r}; expected one of {sorted(table)}")
    return table[name]


class LeNet5(nn.Module):
    """LeNet-5 for (N, in_channels, image_size, image_size) images -> (N, num_classes) logits;
    image_size 28 or 64.

    activation: 'relu' | 'tanh' | 'sigmoid';  pooling: 'max' | 'avg'.
    `features` holds the convolutions (the layers saliency methods look at), `classifier` the
    fully connected layers; the state-dict keys are those of the same model in PyTorch.
    """

    def __init__(self, num_classes=10, in_channels=1, activation="relu", pooling="max",
                 image_size=28):
        super().__init__()
        act = _choose(ACTIVATIONS, activation, "activation")
        pool = _choose(POOLINGS, pooling, "pooling")
        stride, side = lenet_geometry(image_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, stride=stride, padding=2), act(), pool(2),
            nn.Conv2d(6, 16, 5), act(), pool(2))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
