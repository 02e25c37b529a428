"""SE, spatial attention and CBAM: a CNN that re-weights its own feature maps, and where it looks.

    python examples/attention_blocks.py                    # ~1 minute, writes attention_blocks.png
    python examples/attention_blocks.py --train-size 128 --epochs 1     # a quick look

    SqueezeExcitation   which channels matter: w_c = sigmoid(MLP(avg_c)), x * w (Hu et al.
                        2018); CBAM's channel half adds MLP(max_c) inside the sigmoid
    SpatialAttention    where in the image:    w_ij = sigmoid(conv7x7([mean_c, max_c])), x * w
    CBAM                both, channel first (Woo et al. 2018)

A small CNN with a CBAM block after its second convolution is trained briefly on the shapes
data set, whose masks say which pixels are the object. Then: how much of the spatial weight
lands on the object (mean weight on the object / mean weight on the background, per image),
against the same measure for the untrained network and for a fixed centred Gaussian (shapes
are drawn away from the border, so "look at the middle" is the prior to beat); and how the
channel weights of the SE half differ between classes. (Adam at 3e-3, batch 32: a first guess,
not tuned; the test images only report.)
"""
import argparse

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F, nn, optim
from minigrad.data import (SHAPE_CLASSES, Compose, DataLoader, Normalize, ScaleUint8,
                           TensorDataset, shapes)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--train-size", type=int, default=2000)
parser.add_argument("--test-size", type=int, default=300)
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--out", default="attention_blocks")
args = parser.parse_args()


class AttentionCNN(nn.Module):
    """conv-BN-ReLU, pool (16x16), conv-BN-ReLU, CBAM, pool (8x8), conv-BN-ReLU, GAP, Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                                  nn.ReLU())
        self.cbam = nn.attention.CBAM(32, reduction=8, kernel_size=7)
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.cbam(self.stem(x)))


def attention_weights(model, x):
    """The CBAM block's channel weights (N, C) and spatial weights (N, H, W) for a batch: the
    sigmoids of what its MLP and its 7x7 convolution computed (read by forward hooks)."""
    mlp_outputs, spatial = [], []      # the shared MLP runs twice: on the mean, on the max
    hooks = [model.cbam.channel.mlp.register_forward_hook(
                 lambda m, inputs, out: mlp_outputs.append(out.data)),
             model.cbam.spatial.conv.register_forward_hook(
                 lambda m, inputs, out: spatial.append(out.data[:, 0]))]
    with mg.no_grad():
        model.eval()(x)
    for hook in hooks:
        hook.remove()
    sigmoid = lambda z: 1 / (1 + np.exp(-z))                                   # noqa: E731
    return sigmoid(sum(mlp_outputs)), sigmoid(spatial[0])


def object_over_background(weights, masks):
    """Per image: mean weight on the object's pixels / mean weight elsewhere."""
    inside = (weights * masks).sum((1, 2)) / masks.sum((1, 2))
    outside = (weights * ~masks).sum((1, 2)) / (~masks).sum((1, 2))
    return inside / outside


normalize = Normalize((0.5, 0.5, 0.5), (0.3, 0.3, 0.3))
# 32x32 (shapes v2's canvas), the size this lesson's network and figures were made for; its
# move to v3's 64x64 is part of issue #25's lessons item
images, labels, _ = shapes(args.train_size, size=32, seed=0)
test_images, test_labels, test_masks = shapes(args.test_size, size=32, seed=1)
x_test = mg.tensor(normalize(test_images.astype(np.float32) / 255, None))
masks16 = test_masks.reshape(-1, 16, 2, 16, 2).mean((2, 4)) > 0.5          # at the CBAM's 16x16

mg.manual_seed(0)
model = AttentionCNN()
_, untrained_spatial = attention_weights(model, x_test)
loader = DataLoader(TensorDataset(images, labels), 32, shuffle=True, seed=0, drop_last=True,
                    transform=Compose([ScaleUint8(), normalize]))    # uint8 -> [0, 1] first
adam = optim.Adam(model.parameters(), 3e-3)
for epoch in range(args.epochs):
    model.train()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        adam.zero_grad()
        loss.backward()
        adam.step()
with mg.no_grad():
    accuracy = np.mean(model.eval()(x_test).data.argmax(1) == test_labels)
print(f"trained {args.epochs} epochs on {len(images)} shapes images: test accuracy "
      f"{accuracy:.1%} (chance 10%)")

channel, spatial = attention_weights(model, x_test)
yy, xx = np.mgrid[0:16, 0:16] + 0.5
centre = np.broadcast_to(np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / (2 * 4.0 ** 2)), spatial.shape)
print("\nspatial attention: mean weight on the object / on the background (median over "
      f"{len(spatial)} test images; 1 = no preference)")
medians = {}
for name, weights in (("trained CBAM", spatial), ("untrained CBAM", untrained_spatial),
                      ("a centred Gaussian (the prior)", centre)):
    ratios = object_over_background(weights, masks16)
    medians[name] = np.median(ratios)
    print(f"   {name:<32} {medians[name]:.2f}   (above 1 for {np.mean(ratios > 1):.0%} "
          f"of the images)")
trained, prior = medians["trained CBAM"], medians["a centred Gaussian (the prior)"]
print(f"   the trained block weights the object {trained:.2f}x the background "
      f"(untrained: {medians['untrained CBAM']:.2f}x); "
      + ("that beats" if trained > prior else "a fixed look at the middle still does better")
      + f" ({prior:.2f}x); {args.out}.png shows the maps")

print("\nchannel attention: the weight of each of the 32 channels, averaged per class")
per_class = np.array([channel[test_labels == c].mean(0) for c in range(10)])
spread = per_class.std(0)
for c in np.argsort(spread)[::-1][:3]:
    print(f"   channel {c:>2}: " + "  ".join(f"{SHAPE_CLASSES[k][:5]} {per_class[k, c]:.2f}"
                                            for k in range(10)))
within = np.mean([channel[test_labels == c].std(0).mean() for c in range(10)])
print(f"   (the 3 channels whose weight differs most between classes) over all channels the class "
      f"means differ by {spread.mean():.3f},\n   the images of one class by {within:.3f}: "
      + ("the channel weights follow the class" if spread.mean() > within else
         "after this short training the channel weights depend on the image more than on its "
         "class"))

figure, axes = plt.subplots(3, 6, figsize=(13, 6.5))
for column in range(6):
    axes[0, column].imshow(test_images[column].transpose(1, 2, 0))
    axes[0, column].set_title(SHAPE_CLASSES[test_labels[column]], fontsize=9)
    axes[1, column].imshow(test_masks[column], cmap="gray")
    axes[2, column].imshow(spatial[column], cmap="magma", vmin=0, vmax=1)
for row, name in enumerate(("image", "object mask", "spatial attention\n(16x16)")):
    axes[row, 0].set_ylabel(name)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
