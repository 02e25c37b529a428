"""Cluttered MNIST: one bundled MNIST digit somewhere on a larger canvas among fragments of
other digits, with the digit's mask -- ground truth for "did the saliency map find the digit?".

After the cluttered translated MNIST of Mnih et al., Recurrent Models of Visual Attention,
2014. Here the fragments are kept off the digit's own ink bounding box (1 pixel margin), so
the digit is never touched, and its mask -- the digit's nonzero pixels -- is exactly the
evidence for the label. Digits and fragments come from the same bundled split (see mnist_data.py),
so 'test' canvases are built only from test digits.

Version 2 (issue #11): a 64x64 canvas (was 48x48) with 10 fragments (was 6). On the 48x48
canvas a fixed bump in the middle pointed into the digit 76.8% of the time, so no map could be
clearly better; on 64x64 the digit's 28x28 box moves over most of the canvas. The version is
recorded with every model and table (DATA_VERSIONS in minigrad.data).
"""
import numpy as np

from .mnist_data import bundled_mnist

DIGIT = 28
INK_MARGIN = 4            # MNIST digits are scaled to fit 20x20, centred in the 28x28
PLACEMENT_TRIES = 20      # positions tried per fragment before it is left out
DATA_VERSION = 2
SIZE, FRAGMENTS = 64, 10  # version 2's canvas side and fragments per canvas


def cluttered_mnist(n, size=SIZE, seed=0, split="train", fragments=FRAGMENTS, fragment_size=10):
    """Make ``n`` cluttered canvases, the same ones for the same arguments.

    Returns images uint8 (n, 1, size, size), labels int64 (n,) and masks bool
    (n, size, size), True where the labelled digit has ink. Each digit of the split is used
    once before any is used again. fragments: pieces of other digits per canvas, each a
    fragment_size square cut from near the middle of a random other digit.
    """
    if size < DIGIT:
        raise ValueError(f"size must be at least {DIGIT}; got {size}")
    if not 1 <= fragment_size <= DIGIT - 2 * INK_MARGIN:
        raise ValueError(f"fragment_size must be in 1..{DIGIT - 2 * INK_MARGIN}; "
                         f"got {fragment_size}")
    digits, labels = bundled_mnist(split)
    digits = digits[:, 0]
    rng = np.random.default_rng(seed)
    chosen = _each_once_then_again(rng, len(digits), n)
    corner = rng.integers(0, size - DIGIT + 1, (n, 2))                         # (y, x)
    ink_box = _ink_boxes(digits[chosen]) + np.tile(corner, 2)                  # (n, 4)
    sources, cuts, spots = _draw_fragments(rng, chosen, len(digits), ink_box, size,
                                           fragments, fragment_size)
    images = np.zeros((n, size, size), dtype=np.uint8)
    masks = np.zeros((n, size, size), dtype=bool)
    for i in range(n):
        for source, (cy, cx), spot in zip(sources[i], cuts[i], spots[i]):
            if spot is not None:
                _paste_max(images[i], digits[source, cy:cy + fragment_size,
                                             cx:cx + fragment_size], spot)
        digit = digits[chosen[i]]
        _paste_max(images[i], digit, corner[i])
        y, x = corner[i]
        masks[i, y:y + DIGIT, x:x + DIGIT] = digit > 0
    return images[:, None], labels[chosen], masks


def _each_once_then_again(rng, pool, n):
    """n indices into range(pool): a fresh permutation of the pool for every pool-full."""
    rounds = -(-n // pool)
    return np.concatenate([rng.permutation(pool) for _ in range(rounds)])[:n]


def _ink_boxes(digits):
    """Bounding box of the nonzero pixels of each 28x28 digit: (n, 4) = top, left, bottom,
    right, with bottom/right exclusive. A blank digit gets an empty box at its centre."""
    rows, cols = digits.any(axis=2), digits.any(axis=1)                       # (n, 28) each
    first = lambda hit: np.where(hit.any(1), hit.argmax(1), DIGIT // 2)
    last = lambda hit: np.where(hit.any(1), DIGIT - hit[:, ::-1].argmax(1), DIGIT // 2)
    return np.stack([first(rows), first(cols), last(rows), last(cols)], axis=1)


def _draw_fragments(rng, chosen, pool, ink_box, size, fragments, fragment_size):
    """Source digit, cut corner and canvas spot of every fragment.

    Sources skip the canvas's own digit; cuts stay within the digit's central 20x20, where
    MNIST strokes are; spots are the first of PLACEMENT_TRIES random positions whose square
    keeps a 1-pixel margin from the digit's ink box, or None when all tries overlap it.
    """
    n = len(chosen)
    sources = rng.integers(0, pool - 1, (n, fragments))
    sources += sources >= chosen[:, None]                # skip the canvas's own digit
    cuts = rng.integers(INK_MARGIN, DIGIT - INK_MARGIN - fragment_size + 1, (n, fragments, 2))
    tries = rng.integers(0, size - fragment_size + 1, (n, fragments, PLACEMENT_TRIES, 2))
    top, left, bottom, right = (ink_box[:, k, None, None] for k in range(4))
    clear = ((tries[..., 0] + fragment_size < top) | (tries[..., 0] > bottom) |
             (tries[..., 1] + fragment_size < left) | (tries[..., 1] > right))
    first_clear = clear.argmax(axis=2)
    found = clear.any(axis=2)
    picked = np.take_along_axis(tries, first_clear[..., None, None], axis=2)[:, :, 0]
    spots = [[tuple(picked[i, f]) if found[i, f] else None for f in range(fragments)]
             for i in range(n)]
    return sources, cuts, spots


def _paste_max(canvas, patch, corner):
    """Overlay ``patch`` at ``corner`` keeping the brighter pixel, as ink on ink looks."""
    y, x = corner
    h, w = patch.shape
    np.maximum(canvas[y:y + h, x:x + w], patch, out=canvas[y:y + h, x:x + w])
