# %% [markdown]
# # The pre-activation ResNet block: a shortcut that is a pure identity
#
#     python examples/preactivation_resnet.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# The original ResNet block (He et al. 2015, `nn.BasicBlock`) adds the shortcut and *then*
# applies a ReLU:
#
#     post-activation   y = relu(x + F(x)),   F = bn2 . conv2 . relu . bn1 . conv1
#
# so its gradient is dL/dx = relu'(x + F(x)) * (dL/dy) * (1 + dF/dx): the shortcut's "+1" is
# filtered by a ReLU in every block, and over many blocks the gradient that travels the
# shortcuts alone passes only where every one of those ReLUs is open. He et al.'s "Identity
# Mappings in Deep Residual Networks" (2016) moves BatchNorm and ReLU in front of each
# convolution and puts nothing after the sum (`nn.PreActBlock`):
#
#     pre-activation    y = x + F(x),         F = conv2 . relu . bn2 . conv1 . relu . bn1
#
# and dL/dx = dL/dy + (dF/dx)^T dL/dy: the gradient of the last block reaches every earlier block
# whole, and the branches only add to it. Two measurements on a stack of blocks at
# initialisation (BatchNorm in training mode, as in training):
#
# 1. with every residual branch silenced (its last layer 0, the "zero-init" trick) the
#    pre-activation stack hands the gradient back exactly; the post-activation stack zeroes it
#    wherever the ReLU is closed;
# 2. with the default initialisation: how much the gradient grows from the last block to the
#    first, and on how much of the input the shortcuts-only path is open.

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import functional as F, nn
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Pre-activation against post-activation ResNet "
                                             "blocks")
parser.add_argument("--depth", type=int, default=50, help="blocks in the stack")
parser.add_argument("--channels", type=int, default=16)
parser.add_argument("--size", type=int, default=16, help="side of the feature maps")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)
probe = rng.standard_normal((16, args.channels, args.size, args.size))
probe_labels = rng.integers(0, 10, 16)
FORMS = {"post-activation (BasicBlock)": nn.BasicBlock, "pre-activation (PreActBlock)":
         nn.PreActBlock}


# %%
def stack(block, silenced=False):
    """`args.depth` blocks of `args.channels` channels and a classifier head, in float64 (the
    ratios below should not depend on float32's rounding); silenced: every residual branch's
    last layer is 0, so F(x) = 0 (BasicBlock: bn2's scale; PreActBlock: conv2's weights)."""
    mg.manual_seed(0)
    blocks = [block(args.channels, args.channels) for _ in range(args.depth)]
    for each in blocks if silenced else []:
        last = each.bn2 if isinstance(each, nn.BasicBlock) else each.conv2
        nn.init.zeros_(last.weight)
    head = [nn.GlobalAvgPool2d(), nn.Flatten(), nn.Linear(args.channels, 10)]
    return nn.Sequential(*blocks, *head).double()


def gradients(net):
    """The gradient of the loss at the stack's input and at the last block's output, and
    whether each entry of every block's output is positive (where a ReLU after it is open)."""
    outputs = []

    def keep(module, inputs, output):
        output.retain_grad()
        outputs.append(output)

    for block in net[:args.depth]:
        block.register_forward_hook(keep)
    x = mg.tensor(probe, requires_grad=True)
    F.cross_entropy(net(x), probe_labels).backward()
    open_everywhere = np.logical_and.reduce([output.data > 0 for output in outputs])
    return x.grad.data, outputs[-1].grad.data, open_everywhere


# %% [markdown]
# ## 1. Residual branches silenced: only the shortcuts are left
# Each block is now x -> x (pre-activation) or x -> relu(x) (post-activation); the gradient that
# comes back to the input is the last block's, passed through the shortcuts alone.

# %%
print(f"{args.depth} blocks, {args.channels} channels, {args.size}x{args.size} maps, "
      f"BatchNorm in training mode\n\n1. every residual branch silenced (F = 0):")
silenced = {}
for name, block in FORMS.items():
    at_input, at_last, _ = gradients(stack(block, silenced=True))
    difference = np.abs(at_input - at_last).max() / np.abs(at_last).max()
    zeroed = np.mean(at_input == 0) - np.mean(at_last == 0)
    silenced[name] = difference, zeroed
    print(f"   {name:<29} input gradient - last block's: max {difference:.1e} (of its largest); "
          f"{zeroed:.0%} of the entries zeroed on the way")
(post_difference, post_zeroed), (pre_difference, pre_zeroed) = silenced.values()
lesson.claim(pre_difference == 0 and pre_zeroed == 0 and post_zeroed > 0.3,
             f"with the residual branches silenced, {args.depth} pre-activation blocks hand the "
             f"gradient back exactly (difference {pre_difference:.0e}), while the post-activation "
             f"blocks' ReLU zeroes {post_zeroed:.0%} of it")

# %% [markdown]
# ## 2. At initialisation
# The ratio ||dL/d input|| / ||dL/d(last block's output)||: how much the gradient grows on its
# way back through the stack (the branches add to it), and the share of the input's entries
# where all the post-activation ReLUs are open -- where the shortcuts-only path exists at all.

# %%
print("\n2. default initialisation:")
growth = {}
for name, block in FORMS.items():
    at_input, at_last, open_everywhere = gradients(stack(block))
    ratio = np.linalg.norm(at_input) / np.linalg.norm(at_last)
    per_block = ratio ** (1 / args.depth)
    # no ReLU follows a pre-activation block's sum: its shortcuts-only path is never closed
    shortcut_open = 1.0 if block is nn.PreActBlock else float(open_everywhere.mean())
    growth[name] = ratio, per_block, shortcut_open
    print(f"   {name:<29} ||gradient at the input|| / ||at the last block|| = {ratio:6.2f} "
          f"(x{per_block:.3f} a block); the shortcuts-only path open on {shortcut_open:.1%} of "
          f"the entries")
(post_ratio, post_block, post_open), (pre_ratio, pre_block, _) = growth.values()
lesson.claim(pre_ratio < post_ratio / 3 and post_open < 0.2,
             f"at initialisation the gradient grows x{pre_ratio:.1f} from the last of "
             f"{args.depth} pre-activation blocks to the input (x{pre_block:.3f} a block) "
             f"against x{post_ratio:.1f} for post-activation blocks (x{post_block:.3f} a "
             f"block), whose shortcuts-only path is open on {post_open:.1%} of the entries (all "
             f"{args.depth} ReLUs open) against all of them in the pre-activation form")
