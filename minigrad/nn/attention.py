"""Attention blocks for CNNs: re-weight a feature map (N, C, H, W) by what looks important.

    SqueezeExcitation  which channels matter:   x * sigmoid(MLP(avgpool(x)))  (Hu et al. 2018;
                       use_max=True adds + MLP(maxpool(x)) inside the sigmoid: CBAM's version)
    SpatialAttention   where in the image:      x * sigmoid(conv([mean_c(x), max_c(x)]))
    CBAM               both, channel first      (Woo et al. 2018, "CBAM")

Each returns a tensor of the input's shape, so it can be dropped in after any conv block.
"""
from minigrad import functional as F
from minigrad.nn.layers import Conv2d, Linear, ReLU
from minigrad.nn.module import Module, Sequential


class SqueezeExcitation(Module):
    """Channel attention. x: (N, C, H, W) -> x * w with weights w: (N, C, 1, 1) in (0, 1).

    The spatial average of each channel (an (N, C) descriptor: the "squeeze") goes through an
    MLP C -> C // reduction -> C and a sigmoid (the "excitation"): the SE block of Hu et al.
    2018. With use_max=True the channels' spatial maximum goes through the same MLP too and the
    two results are summed before the sigmoid: CBAM's channel module (Woo et al. 2018). The
    parameters (and state-dict keys, mlp.0 and mlp.2) are the same either way.
    """

    def __init__(self, channels, reduction=16, use_max=False):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.channels, self.use_max = channels, use_max
        self.mlp = Sequential(Linear(channels, hidden), ReLU(), Linear(hidden, channels))

    def forward(self, x):
        scores = self.mlp(x.mean(axis=(2, 3)))                        # (N, C)
        if self.use_max:
            scores = scores + self.mlp(x.max(axis=(2, 3)))
        return x * F.sigmoid(scores).reshape(x.shape[0], self.channels, 1, 1)


class SpatialAttention(Module):
    """Spatial attention. x: (N, C, H, W) -> x * w with weights w: (N, 1, H, W) in (0, 1).

    The mean and the maximum over channels, stacked to (N, 2, H, W), go through one k x k
    convolution ('same' padding) and a sigmoid.
    """

    def __init__(self, kernel_size=7):
        super().__init__()
        self.conv = Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x):
        maps = F.concatenate([x.mean(axis=1, keepdims=True), x.max(axis=1, keepdims=True)],
                             axis=1)                                  # (N, 2, H, W)
        return x * F.sigmoid(self.conv(maps))


class CBAM(Module):
    """Convolutional Block Attention Module: channel attention, then spatial attention."""

    def __init__(self, channels, reduction=16, kernel_size=7):
        super().__init__()
        self.channel = SqueezeExcitation(channels, reduction, use_max=True)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x):
        return self.spatial(self.channel(x))
