"""ResNet's `BasicBlock` (He et al. 2016): learn a residual F(x) and add x back."""
from minigrad.nn.layers import BatchNorm2d, Conv2d, ReLU
from minigrad.nn.module import Module, Sequential


class BasicBlock(Module):
    """y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),  two 3x3 convolutions.

    x: (N, in_channels, H, W) -> y: (N, out_channels, H / stride, W / stride).
    The shortcut is x itself when the shapes already agree, else a 1x1 convolution with the
    same stride plus BatchNorm (`downsample`), so that the sum is defined. Names and layout are
    torchvision's, so its state dict keys match one-to-one.
    """

    # For nn.fuse: which BatchNorm follows which convolution (the data flow is in forward).
    fusable_pairs = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(out_channels)
        self.relu = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                Conv2d(in_channels, out_channels, 1, stride, bias=False),
                BatchNorm2d(out_channels))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)
