"""AlexNet-lite: AlexNet's shape (Krizhevsky et al. 2012) scaled down to 3x32x32 images.

    x (N, 3, 32, 32)                                 (or (N, 3, 64, 64): first conv stride 2)
    conv 5x5 3 -> 64, pad 2,    ReLU, maxpool 3/2    (N, 64, 15, 15)
    conv 5x5 64 -> 192, pad 2,  ReLU, maxpool 3/2    (N, 192, 7, 7)
    conv 3x3 192 -> 256, pad 1, ReLU                 (N, 256, 7, 7)
    conv 3x3 256 -> 256, pad 1, ReLU                 (N, 256, 7, 7)
    conv 3x3 256 -> 128, pad 1, ReLU, maxpool 3/2    (N, 128, 3, 3)
    flatten, dropout, fc 1152 -> 512, ReLU, dropout, fc 512 -> 256, ReLU, fc 256 -> 10

Like the original it pools with overlapping 3x3 windows at stride 2 and fights over-fitting of
the big fully connected layers with dropout. `batch_norm=True` adds a BatchNorm2d after every
convolution (an idea from 2015, not AlexNet's): it trains faster and tolerates larger rates.

`image_size=64` (shapes v3) strides the first convolution by 2, as AlexNet's own first
convolution strides 4: its output is 32x32 as for a 32x32 image, so the rest of the network,
its weights' names and shapes, and the cost per image stay the same.
"""
from minigrad import nn

# (out_channels, kernel_size, padding, pool after it?) for each convolution, in order
CONV_LAYERS = ((64, 5, 2, True), (192, 5, 2, True), (256, 3, 1, False), (256, 3, 1, False),
               (128, 3, 1, True))


# the first convolution's stride for each input size: its output is 32x32 for both
FIRST_STRIDE = {32: 1, 64: 2}


def first_stride(image_size):
    """The stride of the first convolution for (image_size x image_size) inputs."""
    if image_size not in FIRST_STRIDE:
        raise ValueError(f"AlexNet-lite: image_size must be one of {sorted(FIRST_STRIDE)}, "
                         f"got {image_size!r}")
    return FIRST_STRIDE[image_size]


def _conv_stack(in_channels, batch_norm, image_size):
    layers, stride = [], first_stride(image_size)
    for out_channels, kernel_size, padding, pool in CONV_LAYERS:
        # a BatchNorm's own shift makes the convolution's bias redundant
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                                padding=padding, bias=not batch_norm))
        stride = 1                                 # only the first convolution strides
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        if pool:
            layers.append(nn.MaxPool2d(3, stride=2))
        in_channels = out_channels
    return nn.Sequential(*layers)


class AlexNetLite(nn.Module):
    """AlexNet-lite for (N, in_channels, image_size, image_size) images -> (N, num_classes)
    logits; image_size 32 or 64.

    `features` holds the convolutions, `classifier` the dropout and fully connected layers.
    """

    def __init__(self, num_classes=10, in_channels=3, dropout=0.5, batch_norm=False,
                 image_size=32):
        super().__init__()
        self.features = _conv_stack(in_channels, batch_norm, image_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(128 * 3 * 3, 512), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(512, 256), nn.ReLU(),
            nn.Linear(256, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
