"""B-cos versions of LeNet-5 and AlexNet-lite (Boehle, Fritz, Schiele, CVPR 2022).

The same shapes as models/lenet.py and models/alexnet_lite.py, with every Conv2d and Linear a
B-cos layer (B = 2, MaxOut of 2 units), no ReLU, no BatchNorm, no bias, no dropout; the input
x in [0, 1] is encoded as [x, 1 - x] (AddInverse) and the logits are the last layer's output
divided by a fixed temperature. Max pooling stays: it selects, so the network is still
y = W(x) x with W(x) the dynamic linear map (saliency.dynamic_linear_map).

    bcos-lenet         x (N, 1, 28, 28) -> [x, 1-x] (N, 2, 28, 28)
                       bcos conv 5x5 -> 6, pad 2, maxpool 2 -> bcos conv 5x5 -> 16, maxpool 2
                       -> flatten 400 -> bcos fc 120 -> bcos fc 84 -> bcos fc 10, / temperature
    bcos-alexnet-lite  x (N, 3, 32, 32) -> (N, 6, 32, 32), AlexNet-lite's five convolutions
                       and three pools, fc 1152 -> 512 -> 256 -> 10, / temperature
                       (x (N, 3, 64, 64): the first convolution strides 2, as AlexNet-lite's)

Each B-cos layer divides by sqrt(D) / scale_fact (nn/bcos.py). The paper's scale_fact = 100
suits bcos-lenet (logits ~5 at initialisation, 32 shapes images or MNIST digits) but leaves
the eight layers of bcos-alexnet-lite with logits ~2e-8 (300: ~0.01, 1000: ~175, measured);
600 puts them at a few units, like bcos-lenet's.
"""
from minigrad import nn
from minigrad.models.alexnet_lite import CONV_LAYERS, first_stride
from minigrad.nn.bcos import AddInverse, BcosConv2d, BcosLinear


class BcosNet(nn.Module):
    """[x, 1 - x] -> features -> Flatten -> classifier, divided by `temperature`."""

    def __init__(self, features, classifier, temperature):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"{type(self).__name__}: temperature must be > 0, got "
                             f"{temperature!r}")
        self.encode = AddInverse()
        self.features = features
        self.flatten = nn.Flatten()
        self.classifier = classifier
        self.temperature = float(temperature)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(self.encode(x)))) / self.temperature

    def extra_repr(self):
        return f"temperature={self.temperature}"


def _classifier(widths, b, scale_fact=100.0):
    return nn.Sequential(*(BcosLinear(n_in, n_out, b, scale_fact=scale_fact)
                           for n_in, n_out in zip(widths, widths[1:])))


def bcos_lenet(num_classes=10, in_channels=1, b=2.0, temperature=10.0):
    """B-cos LeNet-5 for (N, in_channels, 28, 28) images in [0, 1] -> (N, num_classes)."""
    features = nn.Sequential(BcosConv2d(2 * in_channels, 6, 5, padding=2, b=b), nn.MaxPool2d(2),
                             BcosConv2d(6, 16, 5, b=b), nn.MaxPool2d(2))
    return BcosNet(features, _classifier((16 * 5 * 5, 120, 84, num_classes), b), temperature)


def bcos_alexnet_lite(num_classes=10, in_channels=3, b=2.0, temperature=10.0, scale_fact=600.0,
                      image_size=32):
    """B-cos AlexNet-lite for (N, in_channels, image_size, image_size) images in [0, 1] ->
    (N, num_classes); image_size 32 or 64."""
    layers, channels, stride = [], 2 * in_channels, first_stride(image_size)
    for out_channels, kernel_size, padding, pool in CONV_LAYERS:
        layers.append(BcosConv2d(channels, out_channels, kernel_size, stride=stride,
                                 padding=padding, b=b, scale_fact=scale_fact))
        stride = 1
        if pool:
            layers.append(nn.MaxPool2d(3, stride=2))
        channels = out_channels
    return BcosNet(nn.Sequential(*layers),
                   _classifier((128 * 3 * 3, 512, 256, num_classes), b, scale_fact), temperature)
