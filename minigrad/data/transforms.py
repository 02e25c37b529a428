"""Batch transforms: each works on a whole batch x (N, C, H, W) at once.

Every transform is called as ``t(x, rng)`` and returns a new array (the input is never
modified). Random ones draw from the ``np.random.Generator`` they are given -- the DataLoader
passes its per-epoch generator -- so an augmented run is as reproducible as an unaugmented one.
Order matters in ``Compose``: ``ScaleUint8`` first, as torchvision's ``ToTensor()`` comes first
in a torch pipeline (the DataLoader hands the batch over in the data set's dtype, often uint8);
crop and flip before ``Normalize``, so that the crop's zero padding means "black" rather than
"the mean".
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class ScaleUint8:
    """uint8 images (0..255) -> float32 in [0, 1]: x / 255, what torchvision's ``ToTensor()``
    (and ``ToDtype(torch.float32, scale=True)``) does to uint8 images in a torch pipeline.

    Put it first in the DataLoader's ``transform=``: the data set stays uint8, four times
    smaller than float32, and only one batch at a time is converted. It refuses any other
    dtype rather than guess what range the numbers are in.
    """

    def __call__(self, x, rng=None):
        if x.dtype != np.uint8:
            raise TypeError(f"ScaleUint8: expected uint8 images (0..255), got dtype {x.dtype}; "
                            f"leave ScaleUint8 out for images that are in [0, 1] already, or "
                            f"divide them by their maximum (255 for 0..255) yourself")
        out = x.astype(np.float32)
        out /= 255.0          # in place: one float32 array for the batch, not two
        return out


class Normalize:
    """x[:, c] -> (x[:, c] - mean[c]) / std[c]. mean, std: a number or one per channel."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive; got {self.std.ravel()}")

    def __call__(self, x, rng=None):
        if not np.issubdtype(x.dtype, np.floating):
            # (x - 0.13) / 0.31 of 0..255 pixels would run, on numbers 255 times too large
            raise TypeError(f"Normalize: expected floating-point images, got dtype {x.dtype}; "
                            f"put ScaleUint8() before it in the Compose to turn uint8 images "
                            f"into float32 in [0, 1] (as ToTensor() before Normalize in torch)")
        channels = x.shape[1]
        for name, value in (("mean", self.mean), ("std", self.std)):
            if len(value) not in (1, channels):
                raise ValueError(f"Normalize: expected 1 or {channels} {name} values "
                                 f"for x of shape {x.shape}; got {len(value)}")
        return (x - self.mean) / self.std


class RandomCrop:
    """Zero-pad each side by ``padding``, then cut a random ``size`` window from every image.

    With size = H and padding p this is a random shift of up to p pixels in each direction,
    the classic MNIST/CIFAR augmentation. size: int or (height, width).
    """

    def __init__(self, size, padding=0):
        self.height, self.width = (size, size) if np.isscalar(size) else size
        self.padding = padding

    def __call__(self, x, rng):
        n, _, h, w = x.shape
        p = self.padding
        if self.height > h + 2 * p or self.width > w + 2 * p:
            raise ValueError(f"RandomCrop: crop {self.height}x{self.width} larger than the "
                             f"padded image {h + 2 * p}x{w + 2 * p}")
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        top = rng.integers(0, h + 2 * p - self.height + 1, size=n)
        left = rng.integers(0, w + 2 * p - self.width + 1, size=n)
        # A view of every possible window, (N, C, n_top, n_left, height, width), no copy;
        # then one gather picks window (top[i], left[i]) of image i -> (N, C, height, width).
        windows = sliding_window_view(padded, (self.height, self.width), axis=(2, 3))
        return windows[np.arange(n), :, top, left]


class RandomHorizontalFlip:
    """Mirror each image left-right with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, x, rng):
        flip = rng.random(len(x)) < self.p
        return np.where(flip[:, None, None, None], x[..., ::-1], x)


class Compose:
    """Apply transforms in order: ``Compose([RandomCrop(28, 2), Normalize(0.13, 0.31)])``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x, rng=None):
        for transform in self.transforms:
            x = transform(x, rng)
        return x
