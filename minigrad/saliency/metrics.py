"""Metrics that tell a good saliency map from a pretty one.

Against a ground-truth mask (N, H, W) of the object -- maps (N, H, W) at the input's size:

    pointing_game     is the map's maximum on the object (within `tolerance` pixels)?
                      (Zhang et al., "Top-down Neural Attention by Excitation Backprop", 2016)
    energy_in_mask    share of the positive map mass that lies on the object
                      (Wang et al., Score-CAM, 2020: the energy-based pointing game)
    box_iou           IoU of the box around the largest connected region above a threshold
                      with the object's box (the localisation protocol of CAM and Grad-CAM)

Against the model itself, without any mask:

    deletion_insertion   remove the most salient pixels first: how fast does the class
                      probability fall (deletion, low AUC is good); add them to a blurred image
                      first: how fast does it rise (insertion, high AUC is good)
                      (Petsiuk et al., "RISE", BMVC 2018)
    sanity_check      re-initialise the layers from the top down: a map that does not change
                      does not explain the model (Adebayo et al., "Sanity Checks for Saliency
                      Maps", NeurIPS 2018), scored by Spearman rank correlation

and the baselines every table should carry, because a metric means little until a trivial map
has been scored too: a random map, a centre prior, and the image's Sobel edges.
"""
import numpy as np

from minigrad.checks import check_finite
from minigrad.saliency import explain
from minigrad.saliency.core import as_batch, class_scores, predict
from minigrad.saliency.postprocess import gaussian_blur

BASELINES = ("random", "centre", "edges")


def finite_maps(maps, metric):
    """The maps as an array, refused if any value is NaN or infinite: the arg-max of a NaN map
    is its first pixel, and a NaN compares as neither high nor low, so every metric would
    score it as some plausible number."""
    maps = np.asarray(maps)
    check_finite(maps, metric, "maps")
    return maps


# ----- against the mask ----------------------------------------------------------------------
def pointing_game(maps, masks, tolerance=None):
    """(N,) bools: is the map's arg-max within `tolerance` pixels of the mask?

    tolerance None: 15/224 of the image side, the paper's 15 pixels at 224x224 scaled to this
    size (2 pixels at 32x32). A map whose maximum equals its minimum points nowhere: a miss.
    """
    maps, masks = finite_maps(maps, "pointing_game"), np.asarray(masks, dtype=bool)
    n, height, width = maps.shape
    tolerance = 15 / 224 * max(height, width) if tolerance is None else tolerance
    peak_y, peak_x = np.unravel_index(maps.reshape(n, -1).argmax(axis=1), (height, width))
    hits = np.zeros(n, dtype=bool)
    for i in range(n):
        ys, xs = np.nonzero(masks[i])
        near = ((ys - peak_y[i]) ** 2 + (xs - peak_x[i]) ** 2 <= tolerance ** 2).any()
        hits[i] = near and maps[i].max() > maps[i].min()
    return hits


def energy_in_mask(maps, masks):
    """(N,): sum of max(map, 0) inside the mask / sum of max(map, 0) everywhere (0 if none)."""
    positive = np.maximum(finite_maps(maps, "energy_in_mask").astype(np.float64), 0)
    inside = (positive * masks).sum(axis=(1, 2))
    total = positive.sum(axis=(1, 2))
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)


def connected_regions(binary):
    """Label the 4-connected regions of each (H, W) boolean image: (N, H, W) ints, 0 outside.

    Label propagation: every pixel starts with its own number and repeatedly takes the
    smallest label among itself and its 4 neighbours in the region, until nothing changes --
    then each region carries the number of its first pixel.
    """
    n, height, width = binary.shape
    big = n * height * width + 1
    labels = np.where(binary, np.arange(1, big).reshape(binary.shape), big)
    while True:
        padded = np.pad(labels, ((0, 0), (1, 1), (1, 1)), constant_values=big)
        neighbours = np.stack([padded[:, 1:-1, 1:-1], padded[:, :-2, 1:-1], padded[:, 2:, 1:-1],
                               padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]])
        updated = np.where(binary, neighbours.min(axis=0), big)
        if np.array_equal(updated, labels):
            return np.where(binary, labels, 0)
        labels = updated


def bounding_boxes(binary):
    """(N, 4) boxes (top, left, bottom, right), inclusive, of the True pixels; -1s if none."""
    boxes = np.full((len(binary), 4), -1)
    for i, image in enumerate(binary):
        ys, xs = np.nonzero(image)
        if len(ys):
            boxes[i] = ys.min(), xs.min(), ys.max(), xs.max()
    return boxes


def largest_region(maps, threshold=0.15):
    """(N, H, W) bools: the largest connected region where map >= threshold * max(map).

    (15% of the maximum is Grad-CAM's value; the CAM paper used 20%.) A map without positive
    values has no region."""
    maps = np.asarray(maps)
    peak = maps.max(axis=(1, 2), keepdims=True)
    labels = connected_regions((maps >= threshold * peak) & (peak > 0))
    sizes = [np.bincount(image.ravel()) for image in labels]
    largest = np.array([size[1:].argmax() + 1 if len(size) > 1 else -1 for size in sizes])
    return labels == largest[:, None, None]


def box_iou(maps, masks, threshold=0.15):
    """(N,): IoU of the box around the map's largest region and the box around the mask."""
    predicted = bounding_boxes(largest_region(finite_maps(maps, "box_iou"), threshold))
    truth = bounding_boxes(np.asarray(masks, dtype=bool))
    top, left = np.maximum(predicted[:, 0], truth[:, 0]), np.maximum(predicted[:, 1], truth[:, 1])
    bottom = np.minimum(predicted[:, 2], truth[:, 2])
    right = np.minimum(predicted[:, 3], truth[:, 3])
    area = lambda b: (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1) * (b[:, 0] >= 0)
    intersection = np.clip(bottom - top + 1, 0, None) * np.clip(right - left + 1, 0, None)
    intersection = intersection * (predicted[:, 0] >= 0)
    union = area(predicted) + area(truth) - intersection
    return np.divide(intersection, union, out=np.zeros(len(union)), where=union > 0)


# ----- against the model ---------------------------------------------------------------------
def deletion_insertion(model, x, maps, target=None, steps=32, baseline=0.0, blur_sigma=None,
                       batch_size=64):
    """RISE's deletion and insertion curves (Petsiuk, Das, Saenko, BMVC 2018).

    Pixels are ranked by the map, highest first. After k of `steps` steps the first k/steps
    of them have been
        deletion:  set to `baseline` in x             -> probability of the target falls
        insertion: copied from x into a blurred x     -> probability rises
    -> dict with 'fractions' (steps + 1,), 'deletion' and 'insertion' curves (N, steps + 1) of
    the softmax probability, and their areas 'deletion_auc', 'insertion_auc' (N,) (trapezoid
    rule over the fraction of pixels). Blur std: blur_sigma, or a tenth of the image side.
    """
    x = as_batch(x)
    target = predict(model, x).argmax(axis=1) if target is None else np.asarray(target)
    n, _, height, width = x.shape
    fractions = np.linspace(0, 1, steps + 1)
    order = np.argsort(-finite_maps(maps, "deletion_insertion").reshape(n, -1), axis=1,
                       kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(height * width)[None], axis=1)
    # revealed[n, k, pixel]: is the pixel among the first k/steps of image n's ranking?
    revealed = ranks[:, None, :] < (fractions * height * width).round()[None, :, None]
    revealed = revealed.reshape(n, steps + 1, 1, height, width)
    blurred = gaussian_blur(x, blur_sigma or max(height, width) / 10)
    curves = {}
    for name, removed, kept in (("deletion", np.full_like(x, baseline), x),
                                ("insertion", x, blurred)):
        images = np.where(revealed, removed[:, None], kept[:, None]).astype(x.dtype)
        probabilities = class_scores(model, images.reshape((-1,) + x.shape[1:]),
                                     np.repeat(target, steps + 1), "prob", batch_size)
        curves[name] = probabilities.reshape(n, steps + 1)
        curves[name + "_auc"] = trapezoid_area(curves[name], fractions)
    curves["fractions"] = fractions
    return curves


def trapezoid_area(curves, x):
    """Area under each row of `curves` (N, K) over the points x (K,), by the trapezoid rule."""
    return ((curves[:, 1:] + curves[:, :-1]) / 2 * np.diff(x)).sum(axis=1)


def ranks(values):
    """Ranks 0..n-1 of a 1-D array, ties sharing their mean rank (as Spearman needs)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.nonzero(starts)[0]
    last = np.r_[first[1:], len(values)] - 1
    result = np.empty(len(values))
    result[order] = ((first + last) / 2)[group]
    return result


def spearman(a, b):
    """Spearman rank correlation of two maps: the Pearson correlation of their ranks.
    0 when either map is constant (no ranking to compare)."""
    a, b = finite_maps(a, "spearman"), finite_maps(b, "spearman")
    ra, rb = ranks(np.ravel(a)), ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    norm = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / norm) if norm > 0 else 0.0


def randomisable_layers(model):
    """Names of the layers with a weight matrix or kernel (Linear, Conv2d), output end first."""
    return [name for name, module in reversed(list(model.named_modules()))
            if getattr(module, "weight", None) is not None and module.weight.ndim >= 2]


def sanity_check(model, x, method="gradcam", target=None, seed=0, **options):
    """Adebayo et al.'s cascading model-randomisation test.

    Re-initialise the layers one by one from the output down (each step keeps the earlier ones
    random), recompute the maps for the same target, and compare with the trained model's maps
    by Spearman rank correlation. A method that explains the model should drop fast.
    -> list of (layer name randomised last, mean correlation over images); the first entry is
    ('none', 1.0). The model's weights are restored at the end.
    """
    x = as_batch(x)
    target = predict(model, x).argmax(axis=1) if target is None else target
    reference = explain(model, x, target, method, **options)
    saved = model.state_dict()
    modules = dict(model.named_modules())
    rng = np.random.default_rng(seed)
    cascade = [("none", 1.0)]
    try:
        for name in randomisable_layers(model):
            _reinitialise(modules[name], rng)
            maps = explain(model, x, target, method, **options)
            cascade.append((name, float(np.mean([spearman(a, b)
                                                 for a, b in zip(reference, maps)]))))
    finally:
        model.load_state_dict(saved)
    return cascade


def _reinitialise(module, rng):
    """Fresh weights (and bias) from PyTorch's default uniform(+-1/sqrt(fan_in))."""
    fan_in = module.weight.data[0].size
    bound = 1 / np.sqrt(fan_in)
    for param in (module.weight, getattr(module, "bias", None)):
        if param is not None:
            param.data[...] = rng.uniform(-bound, bound, param.shape)


# ----- baselines -----------------------------------------------------------------------------
def baseline_maps(kind, images, seed=0):
    """Maps that know nothing about the model, (N, H, W):

    'random'  uniform noise;   'centre'  a Gaussian bump in the middle (std a quarter of the
    side): objects tend to be near the centre;   'edges'  the Sobel gradient magnitude of the
    image (max over channels): where something, anything, is.
    """
    images = as_batch(images)
    n, _, height, width = images.shape
    if kind == "random":
        return np.random.default_rng(seed).uniform(size=(n, height, width))
    if kind == "centre":
        y, x = np.mgrid[0:height, 0:width]
        d2 = (y - (height - 1) / 2) ** 2 + (x - (width - 1) / 2) ** 2
        bump = np.exp(-d2 / (2 * (max(height, width) / 4) ** 2))
        return np.broadcast_to(bump, (n, height, width)).copy()
    if kind == "edges":
        return sobel_magnitude(images)
    raise ValueError(f"unknown baseline {kind!r}; expected one of {BASELINES}")


def sobel_magnitude(images):
    """|Sobel gradient| of (N, C, H, W) images, max over channels -> (N, H, W).

    Sobel = smoothing [1, 2, 1] across, central difference [-1, 0, 1] along each axis."""
    p = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = images.shape[2:]
    shifted = lambda dy, dx: p[:, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    gx = sum(s * (shifted(dy, 1) - shifted(dy, -1)) for dy, s in ((-1, 1), (0, 2), (1, 1)))
    gy = sum(s * (shifted(1, dx) - shifted(-1, dx)) for dx, s in ((-1, 1), (0, 2), (1, 1)))
    return np.sqrt(gx ** 2 + gy ** 2).max(axis=1)
