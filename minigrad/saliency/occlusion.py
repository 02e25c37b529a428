"""Occlusion: cover part of the image and see how much the class score drops.

(Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014.) Slide a
window x window patch of the baseline (`baselines`, Captum's name: 0 by default) over the image with step `stride`; for each
position p the drop is d_p = S_c(x) - S_c(x with the patch at p). Each pixel gets the mean drop
of the windows that cover it:

    map[i, j] = sum_p d_p [p covers (i, j)] / sum_p [p covers (i, j)]

No gradients at all: only forward passes (one per window position and image, batched), so it
also works where gradients mislead (saturated units), at the price of speed and a resolution
set by the window.
"""
import numpy as np

from minigrad.saliency.core import (Explanation, broadcast_baselines, class_scores, predict,
                                    resolve_target, saliency_method)


def window_starts(size, window, stride):
    """Start of every window along one axis; the last window always touches the far edge."""
    if not 1 <= window <= size:
        raise ValueError(f"occlusion window must be in 1..{size} pixels, got {window}")
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def window_masks(height, width, window, stride):
    """(P, H, W) boolean masks, True on the pixels each window position covers."""
    positions = [(top, left) for top in window_starts(height, window, stride)
                 for left in window_starts(width, window, stride)]
    masks = np.zeros((len(positions), height, width), dtype=bool)
    for mask, (top, left) in zip(masks, positions):
        mask[top:top + window, left:left + window] = True
    return masks


@saliency_method
def occlusion(model, x, target=None, score="logit", window=8, stride=4, baselines=0.0,
              batch_size=64):
    """Mean score drop of the windows covering each pixel (see the module docstring).
    baselines: what a window shows, a number, one image or one per image.
    1 + P forward passes per image, P = number of window positions (49 for 32x32, 8, 4)."""
    target = resolve_target(predict(model, x), target)
    masks = window_masks(x.shape[2], x.shape[3], window, stride)            # (P, H, W)
    n, p = len(x), len(masks)
    baseline = broadcast_baselines(baselines, x, "occlusion")
    occluded = np.where(masks[None, :, None], baseline[:, None], x[:, None])  # (N, P, C, H, W)
    scores = class_scores(model, occluded.reshape((n * p,) + x.shape[1:]), np.repeat(target, p),
                          score, batch_size).reshape(n, p)
    drops = class_scores(model, x, target, score)[:, None] - scores          # (N, P)
    coverage = masks.sum(axis=0)                                             # (H, W), >= 1
    maps = np.tensordot(drops, masks.astype(x.dtype), axes=1) / coverage     # (N, H, W)
    return Explanation(maps.astype(x.dtype), target)
