"""CNN-Fixations: follow the evidence for a class back to the pixels, without any gradient.

(Mopuri, Garg, Babu, "CNN Fixations: An Unraveling Approach to Visualize the Discriminative
Image Regions", IEEE Transactions on Image Processing 28(5), 2019.)

One forward pass records every layer's input. Then, starting from the unit of the explained
class, each layer hands its set of "fixations" (the units that supported the decision) to the
layer below by one rule per layer type. The defaults are what the authors' released code
(github.com/val-iisc/cnn-fixations) does; on AlexNet-lite they give its fixations at every
layer:

    Linear      y_j = sum_i W_ji a_i + b_j: keep every input i with a positive contribution
                W_ji a_i > 0; at the first Linear after the conv part, keep only the input
                with the largest contribution (first_linear='argmax', the default;
                first_linear='positive' keeps every positive one there too)
    Conv2d      for an output unit (o, y, x): the contribution of input channel c is the sum of
                window_c * W[o, c]; keep the channel with the largest one, and in it the
                window's centre (conv_location='centre', the default; nearest input pixel when
                the centre falls in the padding) or the position of the largest single term
                window_c * W[o, c] (conv_location='argmax')
    MaxPool2d, AvgPool2d, global average pooling (AdaptiveAvgPool2d(1), GlobalAvgPool2d)
                the position of the largest input inside the pooling window
    ReLU, BatchNorm, Dropout, Flatten and every other shape-keeping layer
                pass the fixations through unchanged (a flat index is the same unit before and
                after Flatten)
    BasicBlock  y = relu(residual(x) + shortcut(x)): at each fixation follow the branch with
                the larger value there, through its own layers

At the input the fixations are pixels (a channel, y, x each); the map counts the fixations on
each pixel and blurs the counts with a Gaussian (std `sigma` pixels). Explanation.info['points']
gives, per image, the list of (layer name, fixations) from the class unit down to the pixels,
each fixation as the unit's index in that layer's output (one row per unit).
"""
import numpy as np

from minigrad.nn.blocks import BasicBlock
from minigrad.nn.layers import AdaptiveAvgPool2d, AvgPool2d, Conv2d, Linear, MaxPool2d
from minigrad.saliency.core import (Explanation, check_logit_only, hooked_forward, resolve_target,
                                    saliency_method)
from minigrad.saliency.postprocess import gaussian_blur
from minigrad.tensor import Tensor, no_grad

FIRST_LINEAR_RULES = ("argmax", "positive")
CONV_LOCATIONS = ("centre", "argmax")


def record_layers(model, x):
    """Run the model once, recording (name, module, input, output) arrays of every layer in the
    order they ran. Layers are modules without children, and whole BasicBlocks."""
    records = []

    def recorder(name):
        def keep(module, inputs, output):
            records.append((name, module, inputs[0].data, output.data))
        return keep

    logits = hooked_forward(model, x, [(module, recorder(name))
                                       for name, module in _traced_modules(model)])
    return records, logits


def _traced_modules(model):
    """The modules to record: BasicBlocks, and leaf modules not inside a BasicBlock."""
    blocks = [name for name, m in model.named_modules() if isinstance(m, BasicBlock)]
    for name, module in model.named_modules():
        inside_block = any(name.startswith(block + ".") for block in blocks)
        if not inside_block and (isinstance(module, BasicBlock) or not any(module.children())):
            yield name, module


@saliency_method
def cnn_fixations(model, x, target=None, score="logit", first_linear="argmax",
                  conv_location="centre", sigma=None):
    """CNN-Fixations map and per-layer fixations (see the module docstring). One forward pass.
    It follows the class unit: a score other than the logit is refused."""
    check_logit_only("fixations", score)
    _check_choice("first_linear", first_linear, FIRST_LINEAR_RULES)
    _check_choice("conv_location", conv_location, CONV_LOCATIONS)
    if sigma is not None and not sigma > 0:
        raise ValueError(f"sigma must be a number > 0 (pixels) or None, got {sigma!r}")
    records, logits = record_layers(model, x)
    target = resolve_target(logits, target)
    first_linear_name = next((name for name, m, *_ in records if isinstance(m, Linear)), None)
    options = {"first_linear": first_linear, "first_linear_name": first_linear_name,
               "conv_location": conv_location}
    points, counts = [], np.zeros((len(x),) + x.shape[2:], dtype=x.dtype)
    for n in range(len(x)):
        layers, pixels = trace(records, n, np.array([target[n]]), options)
        layers.append(("input", pixels, x.shape[1:]))
        pixels = np.unravel_index(pixels, x.shape[1:])
        np.add.at(counts[n], (pixels[1], pixels[2]), 1)
        points.append([(name, np.stack(np.unravel_index(flat, shape), axis=1))
                       for name, flat, shape in layers])
    sigma = max(x.shape[2:]) / 20 if sigma is None else sigma
    return Explanation(gaussian_blur(counts, sigma), target, points=points, counts=counts)


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def trace(records, n, flat_points, options):
    """Walk the records of image n from the last to the first, mapping fixations downwards.

    flat_points are flat indices into the last record's output. -> (layers, fixations in the
    first record's input), layers = [(name, flat indices, shape) of each layer's output], top
    first.
    """
    layers = []
    for name, module, layer_input, layer_output in reversed(records):
        layers.append((name, flat_points, layer_output.shape[1:]))
        flat_points = np.unique(back(module, name, layer_input[n], layer_output[n], flat_points,
                                     options))
    return layers, flat_points


def back(module, name, a, y, flat_points, options):
    """Fixations in the input `a` of one layer (per image, no batch axis) that support the
    fixations `flat_points` of its output `y`; both as flat indices."""
    if len(flat_points) == 0:
        return flat_points
    if isinstance(module, Linear):
        keep_argmax = options["first_linear"] == "argmax" and name == options["first_linear_name"]
        return linear_back(module.weight.data, a.reshape(-1), flat_points, keep_argmax)
    if isinstance(module, Conv2d):
        return conv_back(module, a, np.unravel_index(flat_points, y.shape),
                         options["conv_location"])
    if isinstance(module, (MaxPool2d, AvgPool2d)) or getattr(module, "is_global", False):
        return pool_back(module, a, np.unravel_index(flat_points, y.shape))
    if isinstance(module, BasicBlock):
        return block_back(module, a, y, flat_points, options)
    if a.size != y.size:
        raise ValueError(f"CNN-Fixations has no rule for layer '{name}' "
                         f"({type(module).__name__}), which changes the shape {a.shape} -> "
                         f"{y.shape}; rules exist for Linear, Conv2d, MaxPool2d, AvgPool2d, "
                         f"global average pooling, BasicBlock and shape-keeping layers")
    return flat_points


def linear_back(weight, a, units, keep_argmax=False):
    """Inputs i with W[j, i] * a[i] > 0 for some fixated unit j (or only the largest one)."""
    contributions = weight[units] * a                                        # (P, F)
    if keep_argmax:
        return contributions.argmax(axis=1)
    return np.nonzero((contributions > 0).any(axis=0))[0]


def _windows(a, rows, cols, pad):
    """Input windows under P output units -> (windows (P, C, KH, KW), inside (P, KH, KW)).

    rows (P, KH), cols (P, KW): coordinates in the input padded by pad = (top, bottom, left,
    right) with zeros; `inside` marks the positions that are real input, not padding.
    """
    top, bottom, left, right = pad
    padded = np.pad(a, ((0, 0), (top, bottom), (left, right)))
    windows = padded[:, rows[:, :, None], cols[:, None, :]].transpose(1, 0, 2, 3)
    inside = ((rows >= top) & (rows < top + a.shape[1]))[:, :, None] & \
             ((cols >= left) & (cols < left + a.shape[2]))[:, None, :]
    return windows, inside


def _window_coordinates(units, kernel, stride, dilation=(1, 1)):
    """Padded-input rows (P, KH) and columns (P, KW) of the windows under output units."""
    _, ys, xs = units
    rows = ys[:, None] * stride[0] + np.arange(kernel[0]) * dilation[0]
    cols = xs[:, None] * stride[1] + np.arange(kernel[1]) * dilation[1]
    return rows, cols


def _flat_input(channels, rows, cols, pad, shape):
    """Padded coordinates of chosen positions -> flat indices into the (C, H, W) input."""
    return np.ravel_multi_index((channels, rows - pad[0], cols - pad[2]), shape)


def conv_back(conv, a, units, location):
    """Conv rule: the input channel with the largest window . W[o, c], then a position in it."""
    if conv.groups != 1:
        raise ValueError("CNN-Fixations supports Conv2d with groups=1 only")
    kernel = conv.kernel_size
    pad = conv.padding_sides
    rows, cols = _window_coordinates(units, kernel, conv.stride, conv.dilation)
    windows, inside = _windows(a, rows, cols, pad)                           # (P, C, KH, KW)
    terms = windows * conv.weight.data[units[0]]                             # (P, C, KH, KW)
    channel = terms.sum(axis=(2, 3)).argmax(axis=1)                          # (P,)
    p = np.arange(len(channel))
    if location == "centre":
        kh, kw = np.full_like(p, kernel[0] // 2), np.full_like(p, kernel[1] // 2)
        r, c = rows[p, kh], cols[p, kw]
        r = np.clip(r, pad[0], pad[0] + a.shape[1] - 1)
        c = np.clip(c, pad[2], pad[2] + a.shape[2] - 1)
    else:
        chosen = np.where(inside, terms[p, channel], -np.inf).reshape(len(p), -1)
        kh, kw = np.unravel_index(chosen.argmax(axis=1), kernel)
        r, c = rows[p, kh], cols[p, kw]
    return _flat_input(channel, r, c, pad, a.shape)


def pool_back(pool, a, units):
    """Pooling rule: the largest input inside each fixated unit's window (the same channel)."""
    if isinstance(pool, AdaptiveAvgPool2d):                  # global: one window per channel
        channels = units[0]
        return _flat_input(channels, *np.unravel_index(a[channels].reshape(len(channels), -1)
                                                       .argmax(axis=1), a.shape[1:]),
                           (0, 0, 0, 0), a.shape)
    kernel = (pool.kernel_size,) * 2 if np.isscalar(pool.kernel_size) else pool.kernel_size
    stride = (pool.stride,) * 2 if np.isscalar(pool.stride) else pool.stride
    padding = (pool.padding,) * 2 if np.isscalar(pool.padding) else pool.padding
    pad = (padding[0], padding[0], padding[1], padding[1])
    rows, cols = _window_coordinates(units, kernel, stride)
    windows, inside = _windows(a, rows, cols, pad)
    p = np.arange(len(units[0]))
    chosen = np.where(inside, windows[p, units[0]], -np.inf).reshape(len(p), -1)
    kh, kw = np.unravel_index(chosen.argmax(axis=1), kernel)
    return _flat_input(units[0], rows[p, kh], cols[p, kw], pad, a.shape)


def block_back(block, a, y, flat_points, options):
    """Residual rule: recompute both branches of the block on its input `a` and follow, at each
    fixation, the branch with the larger value there."""
    residual_layers = [("conv1", block.conv1), ("bn1", block.bn1), ("relu", block.relu),
                       ("conv2", block.conv2), ("bn2", block.bn2)]
    shortcut_layers = [] if block.downsample is None else list(block.downsample.named_children())
    residual_records, residual = _run_chain(residual_layers, a)
    shortcut_records, shortcut = _run_chain(shortcut_layers, a)
    via_shortcut = shortcut.reshape(-1)[flat_points] >= residual.reshape(-1)[flat_points]
    found = [trace(shortcut_records, 0, flat_points[via_shortcut], options)[1],
             trace(residual_records, 0, flat_points[~via_shortcut], options)[1]]
    return np.concatenate(found)


def _run_chain(layers, a):
    """Run named layers one after another on a single input -> (records, output)."""
    records, x = [], a[None]
    with no_grad():
        for name, module in layers:
            y = module(Tensor(x)).data
            records.append((name, module, x, y))
            x = y
    return records, x[0]
