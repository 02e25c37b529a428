"""Pictures of what the engine does: the computation graph and training plots.

`graph_dot` needs nothing but the standard library; rendering calls the Graphviz `dot` program
when it is installed.

The training plots (`plot_curves`, `plot_confusion`, `plot_filters`, `plot_feature_maps`) draw
with matplotlib's Agg renderer straight into a PNG file. They import matplotlib inside the
function, so `import minigrad` stays fast, and they never touch pyplot's global state, so they
are safe in scripts, tests and notebooks alike.
"""
import math
import shutil
import subprocess

import numpy as np

from minigrad.nn import Conv2d
from minigrad.tensor import Tensor, no_grad, nodes_behind


def graph_dot(tensor, path=None):
    """The computation graph behind `tensor` as Graphviz DOT text.

    One box per op, labelled with the op and its output shape; one ellipse per leaf (inputs and
    parameters, green when they require grad); edges point from inputs to the op that used them.
    With `path` ("graph.png") and Graphviz present, also renders the picture; returns the text.
    """
    lines = ["digraph minigrad {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in nodes_behind(tensor):
        name = f"t{id(node)}"
        shape = "x".join(map(str, node.shape)) or "scalar"
        if node.grad_fn is None:
            color = "palegreen" if node.requires_grad else "lightgrey"
            lines.append(f'  {name} [shape=ellipse, style=filled, fillcolor={color}, '
                         f'label="leaf\\n{shape}"];')
            continue
        op = type(node.grad_fn).__name__
        lines.append(f'  {name} [shape=box, style=filled, fillcolor=lightblue, '
                     f'label="{op}\\n{shape}"];')
        for parent in node.grad_fn.inputs:
            if parent is not None and parent.requires_grad:
                lines.append(f"  t{id(parent)} -> {name};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        render_dot(text, path)
    return text


def render_dot(text, path):
    """Render DOT text to an image file with Graphviz; False (and nothing written) without it."""
    if shutil.which("dot") is None:
        return False
    fmt = str(path).rsplit(".", 1)[-1]
    subprocess.run(["dot", f"-T{fmt}", "-o", str(path)], input=text.encode(), check=True)
    return True


# ------------------------------------------------------------------------------------------------
# training plots
# ------------------------------------------------------------------------------------------------
def _figure(width, height):
    """A matplotlib Figure rendered by Agg, independent of pyplot and of any GUI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_curves(history, path, val_label="val"):
    """Loss and accuracy per epoch, training vs validation, side by side, saved to `path`.

    history: the dict `train.fit` returns (train_loss, train_accuracy, val_loss, val_accuracy).
    """
    figure = _figure(10, 4)
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    for column, metric in enumerate(("loss", "accuracy")):
        axes = figure.add_subplot(1, 2, column + 1)
        axes.plot(epochs, history[f"train_{metric}"], "o-", label="train")
        if history.get(f"val_{metric}"):
            axes.plot(epochs, history[f"val_{metric}"], "s-", label=val_label)
        axes.set(xlabel="epoch", ylabel=metric, title=metric)
        axes.xaxis.get_major_locator().set_params(integer=True)   # no epoch 2.5
        axes.grid(alpha=0.3)
        axes.legend()
    return _save(figure, path)


def plot_confusion(confusion, path, class_names=None):
    """The confusion matrix (rows: true class, columns: predicted) with its counts, to `path`."""
    confusion = np.asarray(confusion)
    classes = len(confusion)
    names = class_names or [str(i) for i in range(classes)]
    figure = _figure(1.5 + 0.55 * classes, 1 + 0.5 * classes)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=axes)
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    axes.set(xticks=range(classes), yticks=range(classes), xlabel="predicted", ylabel="true",
             title=f"confusion matrix (accuracy {accuracy:.2%})")
    axes.set_xticklabels(names, rotation=45, ha="right")
    axes.set_yticklabels(names)
    # dark text on light cells, light text on dark ones
    for (row, column), count in np.ndenumerate(confusion):
        color = "white" if count > confusion.max() / 2 else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=8)
    return _save(figure, path)


def _grid(figure, images, spec, **imshow):
    """Show `images` (K, H, W) or (K, H, W, 3) in a near-square grid without axes, inside the
    GridSpec cell `spec`; -> the last AxesImage (for a colour bar)."""
    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    cells = spec.subgridspec(rows, columns, wspace=0.08, hspace=0.08)
    for index, image in enumerate(images):
        axes = figure.add_subplot(cells[index // columns, index % columns])
        shown = axes.imshow(image, **imshow)
        axes.axis("off")
    return shown


def _rescale(array):
    """Stretch to [0, 1]."""
    low, high = array.min(), array.max()
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def first_conv(model):
    """The first Conv2d of `model` (in module order): the layer whose filters look at pixels."""
    for module in model.modules():
        if isinstance(module, Conv2d):
            return module
    raise ValueError(f"{type(model).__name__} has no Conv2d layer")


def layer_title(model, module):
    """A layer as a reader knows it: 'conv1 (6 filters 5x5)', 'ReLU after conv2', not
    'features.0'. Convolutions are numbered from 1 in module order."""
    number = 0
    for candidate in model.modules():
        if isinstance(candidate, Conv2d):
            number += 1
            last_conv = candidate
        if candidate is module:
            if isinstance(module, Conv2d):
                kh, kw = module.kernel_size
                return f"conv{number} ({module.out_channels} filters {kh}x{kw})"
            return type(module).__name__ + (f" after conv{number}" if number else "")
    raise ValueError(f"{type(module).__name__} is not a layer of {type(model).__name__}")


def plot_filters(model, path):
    """The first convolution's filters as little images, on one shared scale, to `path`.

    One input channel: each filter's weights in a diverging colour map, white at 0, with a
    colour bar of the weights. Three (RGB): each filter in colour, mid-grey at 0, all filters
    scaled together, so that a faint filter looks faint.
    """
    conv = first_conv(model)
    weight = conv.weight.data                                   # (OC, C, KH, KW)
    peak = float(np.abs(weight).max()) or 1.0
    figure = _figure(6.5, 6)
    spec = figure.add_gridspec(1, 1, left=0.03, right=0.82, top=0.88, bottom=0.04)[0]
    if weight.shape[1] == 3:
        images = [(w / peak / 2 + 0.5).transpose(1, 2, 0) for w in weight]
        _grid(figure, images, spec)
        note = f"colour: RGB weights, mid-grey = 0, full colour = +-{peak:.3g}"
    else:
        shown = _grid(figure, [w[0] for w in weight], spec, cmap="bwr", vmin=-peak, vmax=peak)
        bar = figure.colorbar(shown, cax=figure.add_axes((0.86, 0.1, 0.03, 0.72)))
        bar.set_label("weight")
        note = "first input channel" if weight.shape[1] > 1 else "red > 0 > blue"
    figure.suptitle(f"filters of {layer_title(model, conv)}\n{note}")
    figure.savefig(path)
    return path


def plot_feature_maps(model, layer, image, path, max_maps=64):
    """The input `image` (C, H, W) and what `layer` of `model` makes of it: up to max_maps
    channels, on one shared colour scale, to `path`.

    layer: a module of the model, or its name ('features.0'). Uses a forward hook, so it works
    for any layer of any model; the model runs once in eval mode without a graph.
    """
    module = dict(model.named_modules())[layer] if isinstance(layer, str) else layer
    captured = []
    handle = module.register_forward_hook(lambda _, inputs, output: captured.append(output.data))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(Tensor(np.asarray(image, dtype=np.float32)[None]))
    finally:
        handle.remove()
        model.train(was_training)
    maps = captured[0][0][:max_maps]                           # (C, H, W) of the one image
    figure = _figure(11, 6)
    left, right = figure.add_gridspec(1, 2, width_ratios=(1, 2.2), left=0.02, right=0.88,
                                      top=0.86, bottom=0.04, wspace=0.08)
    axes = figure.add_subplot(left)
    picture = np.asarray(image, dtype=np.float32)
    axes.imshow(picture[0] if picture.shape[0] == 1 else _rescale(picture).transpose(1, 2, 0),
                cmap="gray")
    axes.set_title("input")
    axes.axis("off")
    shown = _grid(figure, maps, right, cmap="viridis", vmin=float(maps.min()),
                  vmax=float(maps.max()))
    figure.colorbar(shown, cax=figure.add_axes((0.9, 0.1, 0.02, 0.7))).set_label("activation")
    figure.suptitle(f"what {layer_title(model, module)} makes of the input: "
                    f"{len(maps)} of {captured[0].shape[1]} feature maps, "
                    f"{maps.shape[1]}x{maps.shape[2]} each")
    figure.savefig(path)
    return path
