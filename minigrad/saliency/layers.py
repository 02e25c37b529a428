"""Which layer should a CAM method look at? Try them all and score each.

Early conv layers have fine resolution but see small, class-agnostic patterns (edges, blobs);
the last one sees whole objects but at a coarse grid. Running the same method at every conv
layer against ground-truth masks shows the trade-off, and why the last conv layer is the usual
choice:

    for row in compare_layers(model, images, masks, method="gradcam"):
        print(row)          # {'layer': 'features.0', 'resolution': (32, 32), 'pointing': ...}
"""
from minigrad.saliency import LAYER_METHODS, explain
from minigrad.saliency.core import conv_layers, rectified
from minigrad.saliency.metrics import box_iou, energy_in_mask, pointing_game


def compare_layers(model, images, masks, method="gradcam", target=None, layers=None):
    """One row per conv layer's rectified output (or per name in `layers`): the raw map's
    resolution and the mean pointing game, energy in mask and box IoU of `method` there."""
    if method not in LAYER_METHODS:
        raise ValueError(f"compare_layers needs a method that takes a layer, one of "
                         f"{LAYER_METHODS}; got {method!r}")
    rows = []
    for layer in layers or [rectified(model, name) for name in conv_layers(model)]:
        maps, explanation = explain(model, images, target, method, layer=layer,
                                    return_explanation=True)
        rows.append({"layer": layer, "resolution": explanation.maps.shape[1:],
                     "pointing": pointing_game(maps, masks).mean(),
                     "energy": energy_in_mask(maps, masks).mean(),
                     "box_iou": box_iou(maps, masks).mean()})
    return rows


def format_layer_table(rows):
    lines = [f"{'layer':<14} {'map':>7} {'pointing':>9} {'energy':>7} {'box IoU':>8}"]
    for row in rows:
        h, w = row["resolution"]
        lines.append(f"{row['layer']:<14} {f'{h}x{w}':>7} {row['pointing']:>9.1%} "
                     f"{row['energy']:>7.1%} {row['box_iou']:>8.3f}")
    return "\n".join(lines)
