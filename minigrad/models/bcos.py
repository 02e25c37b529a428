"""B-cos versions of LeNet-5 and AlexNet-lite (Boehle, Fritz, Schiele, CVPR 2022).

The same shapes as models/lenet.py and models/alexnet_lite.py, with every Conv2d and Linear a
B-cos layer (B = 2, MaxOut of 2 units), no ReLU, no BatchNorm, no bias, no dropout; the input
x in [0, 1] is encoded as [x, 1 - x] (AddInverse) and the logits are the last layer's output
divided by a fixed temperature. Max pooling stays: it selects, so the network is still
y = W(x) x with W(x) the dynamic linear map (saliency.dynamic_linear_map).

    bcos-lenet         x (N, 1, 28, 28) -> [x, 1-x] (N, 2, 28, 28)
                       bcos conv 5x5 -> 6, pad 2, maxpool 2 -> bcos conv 5x5 -> 16, maxpool 2
                       -> flatten 400 -> bcos fc 120 -> bcos fc 84 -> bcos fc 10, / temperature
                       (x (N, 3, 64, 64): conv1 strides 2, as in LeNet-5: flatten 576)
    bcos-alexnet-lite  x (N, 3, 32, 32) -> (N, 6, 32, 32), AlexNet-lite's five convolutions
                       and three pools, fc 1152 -> 512 -> 256 -> 10, / temperature
                       (x (N, 3, 64, 64): the first convolution strides 2, as AlexNet-lite's)

Each B-cos layer divides by sqrt(D) / scale_fact (nn/bcos.py). The paper's scale_fact = 100
suits bcos-lenet (logits ~5 at initialisation, 32 shapes images or MNIST digits) but leaves
the eight layers of bcos-alexnet-lite with logits ~2e-8 (300: ~0.01, 1000: ~175, measured);
600 puts them at a few units, like bcos-lenet's.

design='v2' builds the same shapes the way of the authors' v2 (Boehle et al., TPAMI 2024):
every B-cos layer has one unit per output (no MaxOut: B = 2 is non-linear enough, and MaxOut
doubles every layer's weights and products) and no fixed scale, and every one but the last is
followed by an uncentred, bias-free BatchNorm (nn.BatchNormUncentered1d/2d), which sets the
magnitudes layer by layer whatever the depth. The network stays y = W(x) x.
"""
from minigrad import nn
from minigrad.models.alexnet_lite import CONV_LAYERS, first_stride
from minigrad.models.lenet import lenet_geometry
from minigrad.nn.bcos import (AddInverse, BatchNormUncentered1d, BatchNormUncentered2d,
                              BcosConv2d, BcosLinear)

DESIGNS = ("v1", "v2")


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


def check_design(design, where):
    if design not in DESIGNS:
        raise ValueError(f"{where}: design must be one of {DESIGNS}, got {design!r}")
    return design


def bcos_conv(in_channels, out_channels, kernel_size, b, design, scale_fact=100.0, **conv):
    """v1: a BcosConv2d (MaxOut of 2, fixed scale); v2: one without either, then a
    BatchNormUncentered2d. -> a list of layers."""
    if check_design(design, "bcos_conv") == "v1":
        return [BcosConv2d(in_channels, out_channels, kernel_size, b=b, scale_fact=scale_fact,
                           **conv)]
    return [BcosConv2d(in_channels, out_channels, kernel_size, b=b, max_out=1, scale_fact=None,
                       **conv), BatchNormUncentered2d(out_channels)]


def bcos_classifier(widths, b, design="v1", scale_fact=100.0):
    """B-cos Linear layers of the given widths; v2: one unit per output, no scale, and a
    BatchNormUncentered1d after each but the last."""
    layers = []
    for n_in, n_out in zip(widths, widths[1:]):
        if check_design(design, "bcos_classifier") == "v1":
            layers.append(BcosLinear(n_in, n_out, b, scale_fact=scale_fact))
        else:
            layers += [BcosLinear(n_in, n_out, b, max_out=1, scale_fact=None),
                       BatchNormUncentered1d(n_out)]
    return nn.Sequential(*(layers if design == "v1" else layers[:-1]))


def bcos_lenet(num_classes=10, in_channels=1, b=2.0, temperature=10.0, design="v1",
               image_size=28):
    """B-cos LeNet-5 for (N, in_channels, image_size, image_size) images in [0, 1] ->
    (N, num_classes); image_size 28 or 64."""
    stride, side = lenet_geometry(image_size)
    features = nn.Sequential(*bcos_conv(2 * in_channels, 6, 5, b, design, stride=stride,
                                        padding=2),
                             nn.MaxPool2d(2), *bcos_conv(6, 16, 5, b, design), nn.MaxPool2d(2))
    return BcosNet(features, bcos_classifier((16 * side * side, 120, 84, num_classes), b,
                                             design), temperature)


def bcos_alexnet_lite(num_classes=10, in_channels=3, b=2.0, temperature=10.0, scale_fact=600.0,
                      image_size=32, design="v1"):
    """B-cos AlexNet-lite for (N, in_channels, image_size, image_size) images in [0, 1] ->
    (N, num_classes); image_size 32 or 64."""
    layers, channels, stride = [], 2 * in_channels, first_stride(image_size)
    for out_channels, kernel_size, padding, pool in CONV_LAYERS:
        layers += bcos_conv(channels, out_channels, kernel_size, b, design, scale_fact,
                            stride=stride, padding=padding)
        stride = 1
        if pool:
            layers.append(nn.MaxPool2d(3, stride=2))
        channels = out_channels
    return BcosNet(nn.Sequential(*layers),
                   bcos_classifier((128 * 3 * 3, 512, 256, num_classes), b, design, scale_fact),
                   temperature)
