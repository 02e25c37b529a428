# %% [markdown]
# # Convolutions compose, BatchNorm is one, and shifting the input shifts the output
#
#     python examples/convolution_algebra.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Three facts of the course, each checked on numbers:
#
# 1. **A composition of convolutions is a convolution.** Two 'valid' 3x3 convolutions in a row
#    (no bias, no activation between) equal one 5x5 convolution: along each axis
#    z[n] = sum_j b[j] y[n+j] = sum_j sum_k b[j] a[k] x[n+j+k], so the kernel of the pair is
#    c[m] = sum_{j+k=m} b[j] a[k], the full convolution of the two kernels (size k1 + k2 - 1),
#    summed over the channels in between. Without a nonlinearity between them, depth buys no
#    new function -- only the receptive field VGG's stacked 3x3s get with a ReLU between.
# 2. **BatchNorm in eval mode is a depthwise 1x1 convolution**: per channel, s x + t with
#    s = gamma / sqrt(running_var + eps), t = beta - running_mean s; a conv with groups =
#    channels, a 1x1 kernel s and the bias t. (batchnorm_folding.py folds it into the conv before.)
# 3. **Convolution is translation-equivariant, pooling adds invariance.** Shift the input and a
#    conv's output shifts by as much (away from the borders). A 2x2 max pool with stride 2 keeps
#    that only for shifts by a multiple of 2: a 1-pixel shift changes what it outputs, not just
#    where. Global pooling forgets position altogether: its output is the same for every shift.

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import functional as F, nn
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Convolution algebra")
parser.add_argument("--size", type=int, default=24, help="side of the test images")
parser.add_argument("--channels", type=int, default=4)
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)
C = args.channels

# %% [markdown]
# ## 1. Two convolutions are one

# %%
def full_convolution_2d(b, a):
    """c[m1, m2] = sum over j + k = m of b[j] a[k], for 2-D kernels: (k1 + k2 - 1) square."""
    kb, ka = b.shape[0], a.shape[0]
    c = np.zeros((kb + ka - 1, kb + ka - 1))
    for j1 in range(kb):
        for j2 in range(kb):
            c[j1:j1 + ka, j2:j2 + ka] += b[j1, j2] * a
    return c


def composed_kernel(second, first):
    """The kernel (out, in, 5, 5) of conv(conv(x, first), second), both 'valid', no bias:
    for each pair of channels, the full convolutions summed over the channels between."""
    out_channels, middle, _, _ = second.shape
    in_channels = first.shape[1]
    size = second.shape[2] + first.shape[2] - 1
    kernel = np.zeros((out_channels, in_channels, size, size))
    for o in range(out_channels):
        for i in range(in_channels):
            for m in range(middle):
                kernel[o, i] += full_convolution_2d(second[o, m], first[m, i])
    return kernel


x = mg.tensor(rng.standard_normal((2, C, args.size, args.size)))
first, second = rng.standard_normal((C, C, 3, 3)), rng.standard_normal((C, C, 3, 3))
two_steps = F.conv2d(F.conv2d(x, mg.tensor(first)), mg.tensor(second)).data
one_step = F.conv2d(x, mg.tensor(composed_kernel(second, first))).data
gap = np.abs(two_steps - one_step).max() / np.abs(two_steps).max()
print(f"1. conv3x3(conv3x3(x)) against one conv5x5 with the composed kernel: output "
      f"{two_steps.shape}, max difference {gap:.0e} of the output's size")
lesson.claim(gap < 1e-12, f"two 3x3 convolutions equal one 5x5 convolution whose kernel is "
             f"their full convolution (to {gap:.0e})")

# %% [markdown]
# ## 2. BatchNorm in eval mode is a depthwise 1x1 convolution

# %%
bn = nn.BatchNorm2d(C).double()
nn.init.normal_(bn.weight, 1.0, 0.3), nn.init.normal_(bn.bias, 0.0, 0.3)
with mg.no_grad():
    for _ in range(5):                           # training mode: real running statistics
        bn(mg.tensor(rng.normal(2.0, 3.0, (16, C, 8, 8))))
bn.eval()
scale = bn.weight.data / np.sqrt(bn.running_var + bn.eps)
shift = bn.bias.data - bn.running_mean * scale
as_conv = F.conv2d(x, mg.tensor(scale.reshape(C, 1, 1, 1)), mg.tensor(shift), groups=C).data
bn_gap = np.abs(bn(x).data - as_conv).max()
print(f"2. eval-mode BatchNorm2d({C}) against conv2d(groups={C}, 1x1 kernel s, bias t): max "
      f"difference {bn_gap:.0e}")
lesson.claim(bn_gap < 1e-12, f"BatchNorm in eval mode is a depthwise 1x1 convolution (to "
             f"{bn_gap:.0e})")

# %% [markdown]
# ## 3. Shift the input: the conv's output shifts; pooling decides what survives

# %%
def image_with_an_object(dy=0, dx=0):
    """A random 6x6 patch in the middle of a zero background, moved by (dy, dx): the shifts
    here keep it, and the conv's reach around it, off the image's border."""
    image = np.zeros((1, C, args.size, args.size))
    patch = np.random.default_rng(1).standard_normal((C, 6, 6))
    top = args.size // 2 - 3
    image[0, :, top + dy:top + dy + 6, top + dx:top + dx + 6] = patch
    return mg.tensor(image)


conv = nn.Conv2d(C, C, 3, padding=1).double()
still, moved = image_with_an_object(), image_with_an_object(1, 2)
with mg.no_grad():
    y_still, y_moved = conv(still).data, conv(moved).data
equivariance_gap = np.abs(np.roll(y_still, (1, 2), axis=(2, 3)) - y_moved).max()
print(f"3. input shifted by (1, 2): conv output shifted by (1, 2) equals the output of the "
      f"shifted input to {equivariance_gap:.0e}")


def pooled_change(shift, pool):
    """How far pool(conv(shifted input)) is from pool(conv(input)), in units of the output; a
    pooled map is first moved back by the whole cells nearest to the shift (the best of them)."""
    with mg.no_grad():
        base = pool(conv(still)).data
        after = pool(conv(image_with_an_object(*shift))).data
    if after.ndim != 4 or after.shape[2:] == (1, 1):
        return np.abs(after - base).max() / np.abs(base).max()
    cells = [(int(np.floor(v / 2)), int(np.ceil(v / 2))) for v in shift]    # stride 2
    return min(np.abs(np.roll(after, (-a, -b), axis=(2, 3)) - base).max() / np.abs(base).max()
               for a in cells[0] for b in cells[1])


local = {shift: pooled_change(shift, lambda t: F.max_pool2d(t, 2)) for shift in ((2, 2), (1, 1))}
global_ = {shift: pooled_change(shift, lambda t: F.adaptive_avg_pool2d(t, 1))
           for shift in ((2, 2), (1, 1), (3, 1))}
print(f"   2x2 max pool, stride 2: shift by (2, 2) -> its map moves by (1, 1), change "
      f"{local[(2, 2)]:.0e}; shift by (1, 1) -> no shift of its map matches: change "
      f"{local[(1, 1)]:.0%} of its size at best")
print("   global average pooling: change " + ", ".join(
    f"{value:.0e} for {shift}" for shift, value in global_.items()))
lesson.claim(equivariance_gap < 1e-12 and local[(2, 2)] < 1e-12 and local[(1, 1)] > 0.05
             and max(global_.values()) < 1e-12,
             f"a conv's output shifts with its input (to {equivariance_gap:.0e}); a 2x2 max pool "
             f"keeps that for even shifts only (a 1-pixel shift changes its output by "
             f"{local[(1, 1)]:.0%}); global average pooling gives the same output for every "
             f"shift (to {max(global_.values()):.0e})")
