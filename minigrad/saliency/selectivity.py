"""How many different things does a unit respond to? Two measures over a labelled test set.

A unit is *polysemantic* when it fires for unrelated inputs; with class labels the simplest
proxy is how mixed the classes of the inputs that drive it are.

    top_k_class_entropy(a, labels, k)    the entropy (bits) of the classes among the k images
                                         that activate each unit most: 0 when all k share a
                                         class, log2(min(k, classes)) when they are spread evenly
    class_selectivity_index(a, labels)   Morcos et al. 2018: (mu_max - mu_-max) / (mu_max +
                                         mu_-max), mu_max the largest class-conditional mean
                                         activation, mu_-max the mean of the other classes'
                                         means: 0 when every class drives the unit equally, 1
                                         when only one class does

`a` is (N, K): one activation per image and unit (features.unit_activations reduces a conv
channel's map to one). A unit that is constant over the images (a dead ReLU) has no preferred
class, and one whose k-th largest activation is tied with the (k+1)-th (a ReLU unit active on
fewer than k images: the rest tie at 0) has no top k: the measures give NaN for such units.
"""
import numpy as np

from minigrad.checks import check_finite, is_whole


def _check(activations, labels):
    """-> activations (N, K) float, labels (N,) int, refused with the expected and the actual."""
    activations, labels = np.asarray(activations, dtype=np.float64), np.asarray(labels)
    if activations.ndim != 2:
        raise ValueError(f"expected activations (N, K), one per image and unit, got shape "
                         f"{activations.shape}")
    # a NaN would sort anywhere and give a unit's mean and index of NaN without a word
    check_finite(activations, "selectivity", "activations")
    if labels.shape != activations.shape[:1]:
        raise ValueError(f"expected labels ({activations.shape[0]},), one per image, got shape "
                         f"{labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError(f"expected class labels as ints >= 0, got {labels.dtype} "
                         f"{labels[:5].tolist()}...")
    return activations, labels


def _constant(activations):
    """(K,) True where a unit takes one value on every image."""
    return activations.max(axis=0) == activations.min(axis=0)


def top_k_class_entropy(activations, labels, k):
    """(K,) entropy H = -sum_c p_c log2 p_c of the classes of each unit's top-k images, p_c
    the share of class c among them; NaN where a tie crosses the k-th place."""
    activations, labels = _check(activations, labels)
    if not (is_whole(k) and 1 <= k <= len(labels)):
        raise ValueError(f"k must be an int in 1..{len(labels)} (the number of images), "
                         f"got {k!r}")
    order = np.argsort(-activations, axis=0, kind="stable")               # (N, K)
    top = order[:k]
    ranked = np.take_along_axis(activations, order, axis=0)
    undefined = ranked[k - 1] == ranked[min(k, len(labels) - 1)] if k < len(labels) \
        else _constant(activations)
    counts = np.stack([np.bincount(labels[top[:, unit]], minlength=labels.max() + 1)
                       for unit in range(activations.shape[1])])           # (K, classes)
    shares = counts / k
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(shares > 0, -shares * np.log2(shares), 0.0)
    entropy = terms.sum(axis=1) + 0.0                                      # no -0.0
    return np.where(undefined, np.nan, entropy)


def class_means(activations, labels):
    """(classes, K): the mean activation of each unit over the images of each class; a class
    with no image is refused (its mean would be undefined)."""
    activations, labels = _check(activations, labels)
    counts = np.bincount(labels)
    if (counts == 0).any():
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no image: every "
                         f"class from 0 to {len(counts) - 1} needs one")
    sums = np.zeros((len(counts), activations.shape[1]))
    np.add.at(sums, labels, activations)
    return sums / counts[:, None]


def class_selectivity_index(activations, labels):
    """(K,) (mu_max - mu_-max) / (mu_max + mu_-max) over the class-conditional means (Morcos
    et al. 2018). Defined for activations >= 0 (after a ReLU); others are refused: rectify
    them first to measure their positive part."""
    activations, labels = _check(activations, labels)
    if (activations < 0).any():
        raise ValueError(f"class selectivity needs activations >= 0 (a ReLU's output), got a "
                         f"minimum of {activations.min():.3g}: pass np.maximum(a, 0) to measure "
                         f"the positive part")
    # the index is the same for a unit scaled by any c > 0; each unit scaled by a power of two
    # (exact, no rounding) to a largest value in [0.5, 1), tiny activations (5e-324) do not
    # underflow to class means of 0
    _, exponent = np.frexp(activations.max(axis=0))
    means = class_means(np.ldexp(activations, -exponent), labels)
    if len(means) < 2:
        raise ValueError("class selectivity compares classes: the labels hold only class 0")
    top = means.max(axis=0)
    others = (means.sum(axis=0) - top) / (len(means) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = (top - others) / (top + others)
    return np.where(_constant(activations), np.nan, index)
