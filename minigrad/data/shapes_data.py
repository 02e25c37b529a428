"""Shapes (version 3): a procedural colour data set with a ground-truth mask for every image.

Ten geometric shapes (SHAPE_CLASSES) at a random position, scale, rotation and colour, on a
background of smooth colour gradients, thin random line segments, a few thick distractor
strokes and pixel noise. The clutter is built from straight segments only, so it never contains
one of the classes, and the mask says exactly which pixels are the object -- the ground truth
that saliency maps are scored against.

Every shape is an inside-test on object coordinates (u, v): the pixel grid rotated by the
image's angle, moved to its centre and divided by its radius, so each shape fits in the unit
disc u^2 + v^2 <= 1. All images of one class are drawn at once, as boolean arrays: no Python
loop over images.

Version 2 (issue #11) made the ground truth able to tell a map from a prior. Version 1 kept
every shape wholly inside with radii of 0.28-0.45 of the side, so its centre moved a few pixels
only and a fixed bump in the middle pointed into the object 77.6% of the time. Since v2 the
radius is 0.17-0.34 of the side and the centre may lie anywhere at least CENTRE_REACH radii from
the border (a shape may touch it and lose its outer pixels), and the distractor strokes have
colours as contrasting as the object's, so that neither "the middle" nor "the brightest or
sharpest region" is the answer.

Version 3 (issue #25) draws the same scenes on a 64x64 canvas (SIZE; v2 drew 32x32). On 32x32 a
radius of 0.17 of the side is 5 px, and a heart, a triangle and a square are a few dozen
ambiguous pixels: a network learnt v2 slowly and badly. Every length is a fraction of the side
-- radius, position, stroke length, and the line and stroke widths (1.2 px and 2.4 px half-widths
at 64) -- so the centre prior's figure stays that of v2, while each shape has four times the
pixels. The noise is an intensity (std on the 0..1 scale), not a length: it stays 0.04.
`shapes(n, size=32, seed=s)` draws exactly v2's images (the random draws do not depend on the
size), which the learnability test uses as its baseline.

`DATA_VERSION` is recorded with every trained model and table, and `check_data_version`
(dataset.py) refuses a model of another version (DataVersionError).
"""
import numpy as np

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "ring",
                 "star", "crescent", "heart", "frame", "arrow")
CHUNK = 1024          # images rendered at a time: bounds the temporaries' memory
DATA_VERSION = 3      # of the generator's output: bump it whenever the same call draws other images
SIZE = 64             # the canvas side, in pixels
# Every length below is a fraction of the side (written as v2's pixels / 32, its side).
RADIUS = (0.17, 0.34)
CENTRE_REACH = 0.6    # the centre keeps at least this many radii from the border
STROKE_LENGTH = (0.15, 0.35)   # distractor strokes
STROKE_WIDTH = 1.2 / 32   # half-width: 0.075 of the side thick, thinner than any class's limb
LINE_WIDTH = 0.6 / 32     # half-width of the thin clutter lines


def _regular_polygon(u, v, sides, inradius):
    """Inside a regular polygon: on the inner side of each of its ``sides`` edge lines."""
    inside = np.ones(u.shape, dtype=bool)
    for k in range(sides):
        angle = 2 * np.pi * k / sides
        inside &= u * np.cos(angle) + v * np.sin(angle) <= inradius
    return inside


def _circle(u, v):
    return u ** 2 + v ** 2 <= 0.8 ** 2


def _square(u, v):
    return np.maximum(abs(u), abs(v)) <= 0.68


def _triangle(u, v):
    return _regular_polygon(u, v, 3, 0.47)        # equilateral, circumradius 0.94


def _cross(u, v):
    return (((abs(u) <= 0.25) & (abs(v) <= 0.9)) |
            ((abs(v) <= 0.25) & (abs(u) <= 0.9)))


def _ring(u, v):
    return (u ** 2 + v ** 2 >= 0.5 ** 2) & (u ** 2 + v ** 2 <= 0.9 ** 2)


def _star(u, v, points=5, outer=0.95, inner=0.4):
    """Fold the angle into one spike's half, [0, pi/points]; inside means on the centre's side
    of the edge from the spike's tip (outer, 0) to the notch at angle pi/points."""
    rho = np.hypot(u, v)
    half = np.pi / points
    phi = abs((np.arctan2(v, u) + half) % (2 * half) - half)
    x, y = rho * np.cos(phi), rho * np.sin(phi)
    tip_x, notch_x, notch_y = outer, inner * np.cos(half), inner * np.sin(half)
    # Sign of the cross product (notch - tip) x (p - tip): the centre's side is positive.
    return (notch_x - tip_x) * y - notch_y * (x - tip_x) >= 0


def _crescent(u, v):
    return (u ** 2 + v ** 2 <= 0.9 ** 2) & ((u - 0.4) ** 2 + v ** 2 > 0.75 ** 2)


def _heart(u, v):
    """Two round lobes over a triangle pointing down: the deep notch between the lobes keeps
    it apart from a circle or a square even when small."""
    lobes = ((abs(u) - 0.38) ** 2 + (v + 0.2) ** 2 <= 0.42 ** 2)
    point = (v >= -0.1) & (abs(u) <= 0.78 * (0.9 - v))        # apex at (0, 0.9)
    return lobes | point


def _frame(u, v):
    edge = np.maximum(abs(u), abs(v))
    return (edge >= 0.42) & (edge <= 0.68)


def _arrow(u, v):
    shaft = (abs(v) <= 0.18) & (u >= -0.9) & (u <= 0.1)
    head = (u >= 0.1) & (abs(v) <= 0.6 * (0.9 - u) / 0.8)
    return shaft | head


SHAPE_FUNCTIONS = (_circle, _square, _triangle, _cross, _ring,
                   _star, _crescent, _heart, _frame, _arrow)


def shapes(n, size=SIZE, seed=0, lines=6, strokes=3, noise=0.04):
    """Make ``n`` images of SHAPE_CLASSES, the same ones for the same arguments.

    Returns images uint8 (n, 3, size, size), labels int64 (n,) (every class n/10 times, give or
    take one, in random order) and masks bool (n, size, size), True on the object's pixels.
    lines: thin clutter segments per image; strokes: thick distractor strokes in contrasting
    colours; noise: std of the Gaussian pixel noise (0..1 scale).
    Different seeds give independent sets, e.g. seed=0 for training, seed=1 for testing.
    """
    rng = np.random.default_rng(seed)
    params = _draw_params(rng, n, size, lines, strokes)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=bool)
    for start in range(0, n, CHUNK):
        part = {key: value[start:start + CHUNK] for key, value in params.items()}
        images[start:start + CHUNK], masks[start:start + CHUNK] = _render(part, size, noise, rng)
    return images, params["label"], masks


def _draw_params(rng, n, size, lines, strokes):
    """Every random choice except the pixel noise, one array per quantity, (n, ...)."""
    radius = rng.uniform(*RADIUS, n) * size
    reach = CENTRE_REACH * radius[:, None]
    background = rng.uniform(0, 1, (n, 3))
    return {
        "label": rng.permutation(np.arange(n) % len(SHAPE_CLASSES)).astype(np.int64),
        "radius": radius,
        "centre": rng.uniform(reach, size - reach, (n, 2)),                     # (y, x)
        "angle": rng.uniform(0, 2 * np.pi, n),
        "background": background,
        "gradient": rng.uniform(-0.25, 0.25, (n, 3, 2)),   # per channel, across y and x
        "colour": _contrasting_colours(rng, background, 1)[:, 0],
        "line_ends": rng.uniform(0, size, (n, lines, 2, 2)),
        "line_colour": rng.uniform(0, 1, (n, lines, 3)),
        "stroke_ends": _stroke_ends(rng, n, strokes, size),
        "stroke_colour": _contrasting_colours(rng, background, strokes),
    }


def _stroke_ends(rng, n, strokes, size):
    """Distractor strokes: a random midpoint anywhere, direction and length. -> (n, k, 2, 2)"""
    middle = rng.uniform(0, size, (n, strokes, 1, 2))
    angle = rng.uniform(0, np.pi, (n, strokes))
    half = rng.uniform(*STROKE_LENGTH, (n, strokes)) * size / 2
    offset = np.stack([np.sin(angle), np.cos(angle)], axis=-1) * half[..., None]
    return middle + np.stack([-offset, offset], axis=2)


def _contrasting_colours(rng, background, k, candidates=6):
    """For each image, k colours, each of a few random ones the farthest from its background
    colour, so that neither the object nor a distractor stroke vanishes into the background
    and the object is not the one that stands out most. background: (n, 3) -> (n, k, 3)."""
    options = rng.uniform(0, 1, (len(background), k, candidates, 3))
    distance = np.linalg.norm(options - background[:, None, None], axis=3)     # (n, k, cand.)
    return np.take_along_axis(options, distance.argmax(axis=2)[..., None, None], axis=2)[:, :, 0]


def _render(p, size, noise, rng):
    """Draw background, lines, strokes and object for one chunk of parameters -> (images, masks)."""
    m = len(p["label"])
    y, x = np.mgrid[0:size, 0:size] + 0.5          # pixel centres, (size, size)
    ramp = np.stack([y, x]) / size - 0.5            # (2, size, size), -0.5..0.5
    canvas = p["background"][:, :, None, None] + np.einsum("nck,khw->nchw", p["gradient"], ramp)
    for ends, colours, width in ((p["line_ends"], p["line_colour"], LINE_WIDTH * size),
                                 (p["stroke_ends"], p["stroke_colour"], STROKE_WIDTH * size)):
        for k in range(ends.shape[1]):
            on_line = _near_segment(y, x, ends[:, k], width)
            canvas = np.where(on_line[:, None], colours[:, k, :, None, None], canvas)
    # The object is drawn last, over the clutter, so its mask is exactly what is visible of it.
    masks = _object_masks(p, y, x)
    canvas = np.where(masks[:, None], p["colour"][:, :, None, None], canvas)
    canvas += rng.normal(0, noise, canvas.shape)
    return np.clip(canvas * 255 + 0.5, 0, 255).astype(np.uint8), masks


def _near_segment(y, x, ends, width):
    """Pixels within ``width`` of segment a-b. ends: (m, 2 ends, 2 coords) -> (m, size, size)."""
    a, b = ends[:, 0, :, None, None], ends[:, 1, :, None, None]      # (m, 2, 1, 1)
    d = b - a
    point = np.stack([y, x])[None] - a                                # (m, 2, size, size)
    t = np.clip((point * d).sum(1) / np.maximum((d ** 2).sum(1), 1e-9), 0, 1)
    return ((point - t[:, None] * d) ** 2).sum(1) <= width ** 2


def _object_masks(p, y, x):
    """Object coordinates for every pixel, then each class's inside-test. -> bool (m, H, W)."""
    dy = y - p["centre"][:, 0, None, None]
    dx = x - p["centre"][:, 1, None, None]
    cos, sin = np.cos(p["angle"])[:, None, None], np.sin(p["angle"])[:, None, None]
    r = p["radius"][:, None, None]
    u, v = (dx * cos + dy * sin) / r, (dy * cos - dx * sin) / r
    masks = np.zeros(u.shape, dtype=bool)
    for label, inside in enumerate(SHAPE_FUNCTIONS):
        chosen = p["label"] == label
        masks[chosen] = inside(u[chosen], v[chosen])
    return masks
