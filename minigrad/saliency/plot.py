"""Pictures of saliency: every function returns a matplotlib Figure (save it with
`fig.savefig('out.png')`). Figures are built without pyplot, so nothing opens a window and any
backend works.

    overlay_grid        one row per image: the image, then each method's map over it
    plot_curves         deletion and insertion curves (metrics.deletion_insertion)
    plot_sanity_cascade rank correlation as the layers are randomised (metrics.sanity_check)
    plot_fixations      CNN-Fixations' points, layer by layer, over the image
    plot_attention_maps a vision transformer's attention, every block and head, for one image
    plot_rollout        attention rollout over the image
    plot_bcos_grid      images, their B-cos RGB+alpha explanations, and other methods' maps
    plot_bcos_against_gradcam  a B-cos network's explanation of the true class beside a
                        plain network's Grad-CAM, titled with the truth and predictions
    plot_image_rows     rows of small images: a layer's maximising inputs (features.py)
    plot_top_patches    each channel's top-activating receptive-field patches (features.py)
"""
import numpy as np
from matplotlib.figure import Figure

from minigrad.saliency import explain
from minigrad.saliency.core import as_batch, predict, untouched
from minigrad.saliency.transformer import attention_maps, class_row, patch_grid


def _displayable(image):
    """(C, H, W) float image -> what imshow wants: (H, W) grey or (H, W, 3), scaled to [0, 1]."""
    image = np.asarray(image, dtype=np.float64)
    low, high = image.min(), image.max()
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)


def _show_image(ax, image, title=None):
    picture = _displayable(image)
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    _bare(ax, title)


def _bare(ax, title=None):
    """No ticks; the title, if any, in small print."""
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def overlay_grid(images, maps_by_method, titles=None, alpha=0.5, cell=1.6, colorbar=True):
    """images (N, C, H, W); maps_by_method {name: (N, H, W)} -> Figure of N rows: the image
    (titled by `titles[i]`), then each method's map over it (the method's name above row 1).

    Each map is divided by its largest magnitude, so that every map uses its colour scale to
    the full. Maps with negative values (signed attributions) are drawn with the diverging 'bwr'
    from -1 to 1, the others with 'jet' from 0 to 1; `colorbar` adds a bar for each scale used.
    """
    n, methods = len(images), list(maps_by_method)
    bars_width = 1.3 if colorbar else 0.0                        # inches kept for the bars
    width = cell * (1 + len(methods)) + bars_width
    fig = Figure(figsize=(width, cell * n + 0.3))
    axes = np.asarray(fig.subplots(n, 1 + len(methods), squeeze=False))
    scales = {}
    for i in range(n):
        _show_image(axes[i, 0], images[i], titles[i] if titles else "image")
        for j, name in enumerate(methods):
            saliency = np.asarray(maps_by_method[name][i], dtype=np.float64)
            _show_image(axes[i, j + 1], images[i], name if i == 0 else None)
            signed = saliency.min() < 0
            cmap, low = ("bwr", -1.0) if signed else ("jet", 0.0)
            scales[cmap] = axes[i, j + 1].imshow(saliency / (np.abs(saliency).max() or 1.0),
                                                 cmap=cmap, alpha=alpha, vmin=low, vmax=1.0)
    fig.tight_layout(rect=(0, 0, 1 - bars_width / width, 1))
    if colorbar:
        for k, (cmap, image) in enumerate(sorted(scales.items())):
            left = 1 - (bars_width - 0.1 - 0.6 * k) / width
            bar = fig.colorbar(image, cax=fig.add_axes((left, 0.15, 0.12 / width, 0.7)))
            bar.set_label("map / max |map| (signed)" if cmap == "bwr" else "map / max of map",
                          fontsize=7)
            bar.ax.tick_params(labelsize=6)
    return fig


def plot_curves(curves_by_method):
    """{name: deletion_insertion result} -> Figure: mean deletion and insertion curves."""
    fig = Figure(figsize=(9, 3.5))
    deletion, insertion = fig.subplots(1, 2)
    for name, curves in curves_by_method.items():
        for ax, kind in ((deletion, "deletion"), (insertion, "insertion")):
            ax.plot(curves["fractions"], curves[kind].mean(axis=0),
                    label=f"{name} (AUC {curves[kind + '_auc'].mean():.3f})")
    for ax, kind in ((deletion, "deletion: lower is better"),
                     (insertion, "insertion: higher is better")):
        ax.set_xlabel("fraction of pixels")
        ax.set_ylabel("probability of the class")
        ax.set_title(kind, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_sanity_cascade(cascades):
    """{method: sanity_check result} -> Figure: rank correlation per randomised layer."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    for name, cascade in cascades.items():
        layers, correlations = zip(*cascade)
        ax.plot(range(len(layers)), correlations, marker="o", label=name)
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=7)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("randomised down to layer")
    ax.set_ylabel("Spearman rank correlation")
    ax.set_title("Model-randomisation sanity check (Adebayo et al. 2018)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_fixations(image, points, max_layers=8, cell=2.0):
    """One image (C, H, W) and its CNN-Fixations points (Explanation.info['points'][i]) ->
    Figure: the input's fixations over the image, then for the deepest spatial layers the
    fixated units on the layer's own (h, w) grid."""
    spatial = [(name, p) for name, p in points if p.shape[1] == 3][-max_layers:][::-1]
    fig = Figure(figsize=(cell * len(spatial), cell))
    axes = np.atleast_1d(fig.subplots(1, len(spatial)))
    for ax, (name, fixations) in zip(axes, spatial):
        if name == "input":
            _show_image(ax, image)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            ax.invert_yaxis()
        ax.scatter(fixations[:, 2], fixations[:, 1], s=6, c="red")
        ax.set_title(f"{name}: {len(fixations)} points", fontsize=8)
    fig.tight_layout()
    return fig


def plot_attention_maps(model, image, cell=1.2):
    """A vision transformer's attention for one image (C, H, W) -> Figure: one row per block,
    one column per head, each the class token's attention to the patches on the patch grid
    (the image under it); the last column is the heads' mean."""
    with untouched(model):
        attentions, _ = attention_maps(model, as_batch(image))
    grid, heads = patch_grid(model), attentions[0].shape[1]
    fig = Figure(figsize=(cell * (heads + 2), cell * len(attentions) + 0.4))
    axes = np.asarray(fig.subplots(len(attentions), heads + 2, squeeze=False))
    for b, attention in enumerate(attentions):
        _show_image(axes[b, 0], image, f"block {b}")
        columns = [attention[:, h] for h in range(heads)] + [attention.mean(axis=1)]
        for h, weights in enumerate(columns):
            ax = axes[b, h + 1]
            ax.imshow(class_row(weights, grid)[0], cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if b == 0:
                ax.set_title(f"head {h}" if h < heads else "mean", fontsize=8)
    fig.suptitle("class token -> patches, per block and head", fontsize=9)
    fig.tight_layout()
    return fig


def plot_rollout(model, image, discard_ratio=0.0):
    """The image (C, H, W), and its attention rollout (upsampled to the image) over it ->
    Figure."""
    rollout_map = explain(model, image, method="rollout", discard_ratio=discard_ratio)
    return overlay_grid(image[None], {"attention rollout": rollout_map}, titles=["image"],
                        cell=2.4)


def plot_bcos_grid(images, rgba, maps_by_method=None, titles=None, cell=1.6,
                   rgba_title="B-cos W(x)", map_titles=None):
    """images (N, C, H, W); rgba (N, H, W, 4), the B-cos rendering (Explanation.info['rgba'])
    -> Figure of N rows: the image, the rendering drawn as it is over black (as in the paper:
    what the alpha hides is dark), then each of `maps_by_method` {name: (N, H, W)} over the
    image ('jet', each map divided by its largest value). Titles: titles[i] over image i,
    rgba_title over the first rendering, and over each map map_titles[name][i] if given, else
    the method's name over the first row."""
    maps_by_method, map_titles = maps_by_method or {}, map_titles or {}
    n, columns = len(images), 2 + len(maps_by_method)
    fig = Figure(figsize=(cell * columns, cell * n + 0.3))
    axes = np.asarray(fig.subplots(n, columns, squeeze=False))
    for i in range(n):
        _show_image(axes[i, 0], images[i], titles[i] if titles else "image")
        axes[i, 1].set_facecolor("black")
        axes[i, 1].imshow(rgba[i])
        _bare(axes[i, 1], rgba_title if i == 0 else None)
        for j, (name, maps) in enumerate(maps_by_method.items()):
            saliency = np.asarray(maps[i], dtype=np.float64)
            title = map_titles[name][i] if name in map_titles else (name if i == 0 else None)
            _show_image(axes[i, j + 2], images[i], title)
            axes[i, j + 2].imshow(saliency / (np.abs(saliency).max() or 1.0), cmap="jet",
                                  alpha=0.5, vmin=0.0, vmax=1.0)
    fig.tight_layout()
    return fig


def plot_bcos_against_gradcam(images, labels, class_names, bcos_model, plain_model,
                              bcos_input=None, plain_input=None, plain_name="plain model",
                              cell=1.8):
    """A B-cos network and a plain one on the same images (N, C, H, W), both explaining the
    TRUE class labels (N,) -> plot_bcos_grid's Figure: each image, titled
    "truth: heart / predicted: triangle" (the B-cos network's prediction), the B-cos network's
    own explanation W(x) in the paper's RGB+alpha rendering, and the plain network's Grad-CAM
    over the image, titled with what the plain network predicted.

    bcos_input, plain_input: what turns the images into each network's input (e.g. its
    recipe's transforms of uint8 images); None: the images as they are."""
    bcos_x = images if bcos_input is None else bcos_input(images)
    plain_x = images if plain_input is None else plain_input(images)
    _, bcos = explain(bcos_model, bcos_x, labels, "bcos", return_explanation=True)
    gradcam = explain(plain_model, plain_x, labels, "gradcam")
    bcos_predicted = predict(bcos_model, bcos_x).argmax(axis=1)
    plain_predicted = predict(plain_model, plain_x).argmax(axis=1)
    name = f"Grad-CAM ({plain_name})"
    titles = [f"truth: {class_names[t]}\npredicted: {class_names[p]}"
              for t, p in zip(labels, bcos_predicted)]
    map_titles = [f"{name}\npredicted: {class_names[p]}" if i == 0 else
                  f"predicted: {class_names[p]}" for i, p in enumerate(plain_predicted)]
    return plot_bcos_grid(images, bcos.info["rgba"], {name: gradcam}, titles, cell,
                          "B-cos W(x), the truth", {name: map_titles})


def _show_in_range(ax, image, value_range):
    """Show `image` (C, H, W) on the fixed scale value_range (low -> black, high -> white), or
    stretched to its own min and max when value_range is None."""
    if value_range is None:
        _show_image(ax, image)
        return
    low, high = value_range
    picture = (np.clip(image, low, high) - low) / (high - low)
    picture = picture[0] if picture.shape[0] == 1 else picture.transpose(1, 2, 0)
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_image_rows(rows, titles=None, cell=0.9, value_range=None):
    """rows {label: images (M, C, H, W)} -> Figure: one row of small images per label (the label
    on the left), e.g. each layer's activation maximisers, one per channel. titles {label: [M
    strings]} go above the images; value_range (low, high) shows every image on one fixed scale
    (None: each stretched to its own min and max)."""
    columns = max(len(images) for images in rows.values())
    fig = Figure(figsize=(cell * columns + 0.8, cell * len(rows) + 0.3))
    axes = np.asarray(fig.subplots(len(rows), columns, squeeze=False))
    for r, (label, images) in enumerate(rows.items()):
        for c, ax in enumerate(axes[r]):
            if c >= len(images):
                ax.axis("off")
                continue
            _show_in_range(ax, images[c], value_range)
            if titles and label in titles:
                ax.set_title(titles[label][c], fontsize=6)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout()
    return fig


def plot_top_patches(patches, top, labels=None, cell=0.8, value_range=None):
    """patches (K, k, C, h, w) from features.crop_patches, top the TopActivations they came from
    -> Figure: one row per channel, its k patches strongest first, each titled with its
    activation (and its image's class, given `labels` (N,))."""
    rows, titles = {}, {}
    for c in range(len(patches)):
        rows[f"channel {c}"] = patches[c]
        titles[f"channel {c}"] = [
            f"{value:.2g}" + ("" if labels is None else f" ({labels[index]})")
            for value, index in zip(top.values[c], top.indices[c])]
    return plot_image_rows(rows, titles, cell, value_range)
