"""The building blocks of three CNN families, small enough to train on a CPU:

    vgg_block   VGG (Simonyan & Zisserman 2015): a few 3x3 convolutions, then a 2x2 max pool
    Inception   GoogLeNet's module (Szegedy et al. 2015): 1x1, 3x3, 5x5 and pooling branches side
                by side, concatenated along the channels
    BasicBlock  ResNet (He et al. 2016): learn a residual F(x) and add x back
    PreActBlock the pre-activation ResNet block (He et al. 2016, "Identity Mappings in Deep
                Residual Networks"): BatchNorm and ReLU before each convolution, nothing after
                the sum, so the shortcut is a pure identity
"""
from minigrad.nn.layers import BatchNorm2d, Conv2d, MaxPool2d, ReLU
from minigrad.nn.module import Module, Sequential
from minigrad.ops.shape import cat


def vgg_block(in_channels, out_channels, convs=2, batch_norm=False):
    """`convs` times (3x3 conv, padding 1 [, BatchNorm], ReLU), then a 2x2 max pool:
    (N, in_channels, H, W) -> (N, out_channels, H/2, W/2).

    Two stacked 3x3 convolutions see a 5x5 window, three see 7x7, with fewer weights than one
    big kernel (2 * 9 C^2 against 25 C^2) and a nonlinearity between them."""
    layers = []
    for index in range(convs):
        layers.append(Conv2d(in_channels if index == 0 else out_channels, out_channels, 3,
                             padding=1, bias=not batch_norm))
        layers += [BatchNorm2d(out_channels)] if batch_norm else []
        layers.append(ReLU())
    return Sequential(*layers, MaxPool2d(2))


def _conv_relu(in_channels, out_channels, kernel_size):
    return Sequential(Conv2d(in_channels, out_channels, kernel_size,
                             padding=kernel_size // 2), ReLU())


class Inception(Module):
    """GoogLeNet's Inception module: four branches over the same input, their outputs
    concatenated along the channels (N, in, H, W) -> (N, c1 + c3 + c5 + pool_proj, H, W):

        branch1  1x1 conv                           (c1 channels)
        branch2  1x1 conv to c3_reduce, 3x3 conv    (c3)
        branch3  1x1 conv to c5_reduce, 5x5 conv    (c5)
        branch4  3x3 max pool (stride 1), 1x1 conv  (pool_proj)

    The 1x1 "reductions" before the 3x3 and 5x5 convolutions are what makes it affordable: they
    shrink the channels the expensive kernels see. Argument names and order are torchvision's.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = _conv_relu(in_channels, ch1x1, 1)
        self.branch2 = Sequential(_conv_relu(in_channels, ch3x3red, 1),
                                  _conv_relu(ch3x3red, ch3x3, 3))
        self.branch3 = Sequential(_conv_relu(in_channels, ch5x5red, 1),
                                  _conv_relu(ch5x5red, ch5x5, 5))
        self.branch4 = Sequential(MaxPool2d(3, stride=1, padding=1),
                                  _conv_relu(in_channels, pool_proj, 1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


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


class PreActBlock(Module):
    """y = conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut(x): the "full pre-activation" block.

    x: (N, in_channels, H, W) -> y: (N, out_channels, H / stride, W / stride).
    BasicBlock ends in a ReLU after the sum, so its gradient to x goes through relu' (zero
    wherever the sum is negative); here nothing follows the sum, dy/dx = 1 + dF/dx, and the
    gradient reaches x whole however many blocks follow. When the shapes differ the shortcut
    is a 1x1 convolution with the same stride (`downsample`, no BatchNorm) on relu(bn1(x)), as
    in the paper's code. (torchvision has no such block; the names follow BasicBlock's.)
    """

    # For nn.fuse: bn2 follows conv1 (bn1 follows whatever came before the block).
    fusable_pairs = (("conv1", "bn2"),)

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.bn1 = BatchNorm2d(in_channels)
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.relu = ReLU()
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x):
        activated = self.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(activated)
        out = self.conv2(self.relu(self.bn2(self.conv1(activated))))
        return out + shortcut
