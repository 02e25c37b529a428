# %% [markdown]
# # Average pooling and global average pooling are convolutions; max pooling is not
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
#     python examples/pooling_as_convolution.py            # prints the lesson, writes pooling_as_convolution.png
#
# A convolution is linear in its input: conv(a + b) = conv(a) + conv(b), with weights fixed
# before it sees the data. Average pooling fits that mould: a k x k window averaged with stride s
# is a *depthwise* convolution (groups = channels) whose every weight is 1 / k^2; global average
# pooling is the same with a kernel as large as the image. Max pooling picks a different element
# of each window depending on the values, so no fixed weights reproduce it: the script fits the
# best linear map to max pooling by least squares and shows what error remains.

# %%
import argparse

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad.lessons import Lesson

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="Pooling as convolution")
parser.add_argument("--windows", type=int, default=20_000, help="2x2 windows for the fit")
parser.add_argument("--out", default="pooling_as_convolution")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)
N, C, H, W = 2, 3, 8, 8
x = rng.standard_normal((N, C, H, W))


def depthwise_average_kernel(channels, kh, kw):
    """Weights (C, 1, kh, kw), all 1 / (kh kw): each channel averaged on its own."""
    return np.full((channels, 1, kh, kw), 1.0 / (kh * kw))


def check(name, pooled, convolved):
    """Values and gradients (for the same upstream gradient) of the two ways."""
    a, b = mg.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    ya, yb = pooled(a), convolved(b)
    g = rng.standard_normal(ya.shape)
    ya.backward(g)
    yb.backward(g)
    value_gap, grad_gap = np.abs(ya.data - yb.data).max(), np.abs(a.grad - b.grad).max()
    print(f"   {name:<44} output {ya.shape}: max |difference| {value_gap:.1e}, "
          f"of the gradients {grad_gap:.1e}")
    return max(value_gap, grad_gap)


# %%
# 1. Average pooling as a depthwise convolution, for overlapping and padded windows too.
print("1. average pooling == depthwise conv with weights 1/k^2")
gaps = []
for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
    kernel = mg.tensor(depthwise_average_kernel(C, k, k))
    gaps.append(check(f"avg_pool2d(k={k}, s={s}, p={p})",
                      lambda t, k=k, s=s, p=p: F.avg_pool2d(t, k, s, p),
                      lambda t, w=kernel, s=s, p=p: F.conv2d(t, w, stride=s, padding=p,
                                                            groups=C)))
# (the padding counts in the divisor here, PyTorch's count_include_pad=True: a convolution's
# zero padding also adds 0 with the full weight 1/k^2)

# %%
# 2. Global average pooling: one window the size of the image.
print("2. global average pooling == depthwise conv with an H x W kernel")
kernel = mg.tensor(depthwise_average_kernel(C, H, W))
gaps.append(check("adaptive_avg_pool2d(1)", lambda t: F.adaptive_avg_pool2d(t, 1),
                  lambda t: F.conv2d(t, kernel, groups=C)))
print(f"   equal up to rounding: {max(gaps) < 1e-12}")
lesson.claim(max(gaps) < 1e-12, f"average and global average pooling equal depthwise convs with "
             f"weights 1/k^2, values and gradients (max difference {max(gaps):.0e})")

# %%
# 3. Max pooling is not linear: max(a + b) != max(a) + max(b).
a, b = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
pool = lambda z: F.max_pool2d(mg.tensor(z[None, None]), 2).item()   # noqa: E731
print(f"3. max pooling is not linear: a = {a.ravel()}, b = {b.ravel()}\n"
      f"   maxpool(a + b) = {pool(a + b):.0f}  but  maxpool(a) + maxpool(b) = "
      f"{pool(a) + pool(b):.0f}  (a convolution would give equal numbers)")
lesson.claim(pool(a + b) != pool(a) + pool(b), "max pooling is not linear: "
             f"maxpool(a + b) = {pool(a + b):.0f}, maxpool(a) + maxpool(b) = "
             f"{pool(a) + pool(b):.0f}")

# %%
# 4. The best fixed weights for a 2x2 window, by least squares over many random windows.
windows = rng.standard_normal((args.windows, 4))
design = np.hstack([windows, np.ones((args.windows, 1))])            # 4 weights and a bias
fits = {}
for name, target in (("average", windows.mean(axis=1)), ("max", windows.max(axis=1))):
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coefficients
    fits[name] = (coefficients, np.sqrt(np.mean(residual ** 2)) / target.std())
    print(f"4. best linear fit to {name:<7} pooling: weights {np.round(coefficients[:4], 3)}, "
          f"bias {coefficients[4]:+.3f}, error {fits[name][1]:.1%} of the output's spread")
print("   average pooling is fitted exactly (weights 1/4); for max pooling the best weights are\n"
      "   still 1/4 each -- by symmetry no window element can be preferred -- and the error\n"
      "   that remains is what depends on which element wins.")
lesson.claim(fits["average"][1] < 1e-6 and 0.6 < fits["max"][1] < 0.8,
             f"the best fixed weights fit average pooling exactly (error {fits['average'][1]:.0e})"
             f" and leave {fits['max'][1]:.0%} of max pooling's spread unexplained")

# %%
# The picture: the max-pooled value against its best linear prediction.
figure, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, name in zip(axes, ("average", "max")):
    target = windows.mean(axis=1) if name == "average" else windows.max(axis=1)
    prediction = design @ fits[name][0]
    ax.scatter(prediction[:2000], target[:2000], s=3, alpha=0.4)
    ax.plot([-2, 3], [-2, 3], "k--", lw=1)
    ax.set_xlabel("best fixed-weight (convolution) output")
    ax.set_ylabel(f"{name} pooling output")
    ax.set_title(f"{name} pooling: error {fits[name][1]:.1%}")
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"\nwrote {args.out}.png")
