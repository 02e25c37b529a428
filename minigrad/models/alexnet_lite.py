"""AlexNet-lite: AlexNet's shape (Krizhevsky et al. 2012) scaled down to 3x32x32 images.

    x (N, 3, 32, 32)
    conv 5x5 3 -> 64, pad 2,    ReLU, maxpool 3/2    (N, 64, 15, 15)
    conv 5x5 64 -> 192, pad 2,  ReLU, maxpool 3/2    (N, 192, 7, 7)
    conv 3x3 192 -> 256, pad 1, ReLU                 (N, 256, 7, 7)
    conv 3x3 256 -> 256, pad 1, ReLU                 (N, 256, 7, 7)
    conv 3x3 256 -> 128, pad 1, ReLU, maxpool 3/2    (N, 128, 3, 3)
    flatten, dropout, fc 1152 -> 512, ReLU, dropout, fc 512 -> 256, ReLU, fc 256 -> 10

Like the original it pools with overlapping 3x3 windows at stride 2 and fights over-fitting of
the big fully connected layers with dropout. `batch_norm=True` adds a BatchNorm2d after every
convolution (an idea from 2015, not AlexNet's): it trains faster and tolerates larger rates.
"""
from minigrad import nn

# (out_channels, kernel_size, padding, pool after it?) for each convolution, in order
CONV_LAYERS = ((64, 5, 2, True), (192, 5, 2, True), (256, 3, 1, False), (256, 3, 1, False),
               (128, 3, 1, True))


def _conv_stack(in_channels, batch_norm):
    layers = []
    for out_channels, kernel_size, padding, pool in CONV_LAYERS:
        # a BatchNorm's own shift makes the convolution's bias redundant
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding,
                                bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        if pool:
            layers.append(nn.MaxPool2d(3, stride=2))
        in_channels = out_channels
    return nn.Sequential(*layers)


class AlexNetLite(nn.Module):
    """AlexNet-lite for (N, in_channels, 32, 32) images -> (N, num_classes) logits.

    `features` holds the convolutions, `classifier` the dropout and fully connected layers.
    """

    def __init__(self, num_classes=10, in_channels=3, dropout=0.5, batch_norm=False):
        super().__init__()
        self.features = _conv_stack(in_channels, batch_norm)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(128 * 3 * 3, 512), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(512, 256), nn.ReLU(),
            nn.Linear(256, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
