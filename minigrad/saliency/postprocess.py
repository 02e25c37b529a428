"""Post-processing of raw saliency maps: explicit, switchable steps.

Every method returns its *raw* map: signed, at its own resolution (the input's for gradient
methods, the layer's for the CAM family). What you usually look at is that map after a few steps,
and each one changes what the map says, so each is named and optional:

    'relu'       keep positive evidence only: max(map, 0) (the ReLU in Grad-CAM's formula)
    'abs'        magnitude, whatever the sign: |map|
    'upsample'   bilinear resize to the input's H x W (a 4x4 Grad-CAM map becomes 32x32)
    'normalize'  divide each map by its largest |value|: [0, 1] for a non-negative map,
                 [-1, 1] for a signed one; an all-zero map stays all zeros (never NaN)

`explain(..., postprocess=('relu', 'upsample'))` picks the steps; `postprocess=()` gives the raw
map; `postprocess='default'` uses the method's own default (see METHODS in saliency/__init__.py).
"""
import numpy as np

STEPS = ("relu", "abs", "upsample", "normalize")


def bilinear_resize(maps, size):
    """Resize (N, h, w) maps to size = (H, W) by bilinear interpolation.

    Same convention as PyTorch's interpolate(mode='bilinear', align_corners=False): output pixel
    centre i maps to input coordinate (i + 0.5) * h / H - 0.5, clamped to the input's edges, and
    takes the distance-weighted mean of the 4 input pixels around it.
    """
    maps = np.asarray(maps)
    top, bottom, wy = _sample_grid(maps.shape[1], size[0])
    left, right, wx = _sample_grid(maps.shape[2], size[1])
    wy, wx = wy[None, :, None], wx[None, None, :]
    upper = maps[:, top][:, :, left] * (1 - wx) + maps[:, top][:, :, right] * wx
    lower = maps[:, bottom][:, :, left] * (1 - wx) + maps[:, bottom][:, :, right] * wx
    return (upper * (1 - wy) + lower * wy).astype(maps.dtype, copy=False)


def _sample_grid(n_in, n_out):
    """For each output index: the two neighbouring input indices and the weight of the second."""
    coordinate = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(coordinate).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    return low, high, coordinate - low


def normalize(maps):
    """Divide each map by its largest absolute value; all-zero maps stay zero."""
    peak = np.abs(maps).max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)


def apply_steps(maps, steps, size):
    """Apply the named steps in order; size = (H, W) of the input, for 'upsample'."""
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise ValueError(f"unknown post-processing step(s) {unknown}; the steps are {STEPS}")
    for step in steps:
        if step == "relu":
            maps = np.maximum(maps, 0)
        elif step == "abs":
            maps = np.abs(maps)
        elif step == "upsample":
            maps = bilinear_resize(maps, size)
        else:
            maps = normalize(maps)
    return maps


def gaussian_blur(images, sigma):
    """Blur the last two axes of `images` with a Gaussian of std `sigma` pixels.

    Separable: a 1-D kernel exp(-d^2 / 2 sigma^2) (normalised to sum 1, radius 3 sigma) along
    the rows, then along the columns; edges are extended by reflection so that no mass is lost.
    """
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    for axis in (-2, -1):
        pad = [(0, 0)] * images.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(images, pad, mode="reflect" if images.shape[axis] > radius else "edge")
        length = images.shape[axis]
        images = sum(weight * np.take(padded, np.arange(k, k + length), axis=axis)
                     for k, weight in enumerate(kernel))
    return images
